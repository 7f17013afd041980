"""Publish a run's checkpoint into models/: weights without optimizer or RNG state, plus the run's record.

    python scripts/publish_checkpoint.py runs/camvid_enet/last.pt models/camvid_enet.pt
    python scripts/publish_checkpoint.py training_state/enet/last.pt models/camvid_enet.pt \
        --recipe training_state/enet_recipe

Only the last epoch of a finished schedule is published (docs/protocol.md):
a checkpoint whose epoch is not its config's ``epochs`` (a best-val
``best.pt``, an unfinished run) is refused.

Beside TARGET (``models/NAME.pt``) it copies the run folder's ``metrics.jsonl``
(every epoch) to ``models/NAME.metrics.jsonl`` and its ``config.json`` (the
resolved config, overrides applied) to ``models/NAME.resolved_config.json``,
each written atomically. With ``--recipe RUN`` (the recipe run's folder,
docs/protocol.md) it also copies that run's ``metrics.jsonl`` and
``config.json`` to ``models/NAME.recipe.metrics.jsonl`` and
``models/NAME.recipe.resolved_config.json``, for the zoo table's
held-out-drive column; an unfinished recipe run is refused. Score the published model with
``edgeseg eval models/NAME.pt --data DATA --split val --json models/NAME.val.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeseg.atomic import atomic_write_text
from edgeseg.train.checkpoint import load_checkpoint, save_checkpoint, weights_only_copy
from edgeseg.train.published import read_metrics


def _copy_records(run: Path, stem: Path, infix: str) -> None:
    """``run/metrics.jsonl`` and ``run/config.json`` -> ``STEM{infix}.metrics.jsonl`` / ``STEM{infix}.resolved_config.json``."""
    for name, suffix in (("metrics.jsonl", ".metrics.jsonl"), ("config.json", ".resolved_config.json")):
        record = run / name
        if record.is_file():
            copy = stem.with_name(stem.name + infix + suffix)
            atomic_write_text(copy, record.read_text(encoding="utf-8"))
            print(f"{copy}: copied from {record}")


def _recipe_finished(run: Path) -> str | None:
    """None where ``run`` is a finished recipe run, else why not."""
    metrics, config = run / "metrics.jsonl", run / "config.json"
    if not metrics.is_file() or not config.is_file():
        return f"{run} has no metrics.jsonl and config.json (is it a run folder of edgeseg train?)"
    lines = read_metrics(metrics)
    planned = json.loads(config.read_text(encoding="utf-8")).get("epochs")
    done = lines[-1]["epoch"] if lines else 0
    if done != planned:
        return f"recipe run {run} is at epoch {done} of {planned}; let it finish (scripts/train_survey.py resumes it)"
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the run's last.pt")
    parser.add_argument("target", type=Path, help="models/NAME.pt")
    parser.add_argument("--recipe", type=Path, help="the recipe run's folder (held-out-drive score)")
    args = parser.parse_args(argv)
    source, target = args.source, args.target
    if args.recipe is not None and (why := _recipe_finished(args.recipe)):
        print(f"error: {why}", file=sys.stderr)
        return 2
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
    _copy_records(source.parent, stem, "")
    if args.recipe is not None:
        _copy_records(args.recipe, stem, ".recipe")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
