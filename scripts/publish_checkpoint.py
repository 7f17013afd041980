"""Publish a run's checkpoint into models/: weights without optimizer or RNG state, plus the run's record.

    python scripts/publish_checkpoint.py runs/camvid_enet/last.pt models/camvid_enet.pt

Only the last epoch of a finished schedule is published (docs/protocol.md):
a checkpoint whose epoch is not its config's ``epochs`` (a best-val
``best.pt``, an unfinished run) is refused.

Beside TARGET (``models/NAME.pt``) it copies the run folder's ``metrics.jsonl``
(every epoch) to ``models/NAME.metrics.jsonl`` and its ``config.json`` (the
resolved config, overrides applied) to ``models/NAME.resolved_config.json``,
each written atomically. Score the published model with
``edgeseg eval models/NAME.pt --data DATA --split val --json models/NAME.val.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edgeseg.atomic import atomic_write_text
from edgeseg.train.checkpoint import load_checkpoint, save_checkpoint, weights_only_copy


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    full = load_checkpoint(source)
    planned = full.get("config", {}).get("epochs")
    if planned is not None and full.get("epoch") != planned:
        print(f"error: {source} is epoch {full.get('epoch')} of a {planned}-epoch schedule; publish the last epoch "
              "of a finished run (its last.pt), never a best-val checkpoint (docs/protocol.md)", file=sys.stderr)
        return 2
    checkpoint = weights_only_copy(full)
    save_checkpoint(target, checkpoint)
    meta = checkpoint["metadata"]["training"]
    print(f"{target}: {checkpoint['metadata']['architecture']}, epoch {checkpoint['epoch']}, val mIoU {meta.get('val_miou')}")
    stem = target.with_suffix("")
    for name, suffix in (("metrics.jsonl", ".metrics.jsonl"), ("config.json", ".resolved_config.json")):
        record = source.parent / name
        if record.is_file():
            copy = stem.with_name(stem.name + suffix)
            atomic_write_text(copy, record.read_text(encoding="utf-8"))
            print(f"{copy}: copied from {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
