"""Publish a run's checkpoint into models/: weights without optimizer or RNG state, plus the run's record.

    python scripts/publish_checkpoint.py runs/camvid_enet/best.pt models/camvid_enet.pt

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
    checkpoint = weights_only_copy(load_checkpoint(source))
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
