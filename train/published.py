"""What the repository records about a published model: scores, schedule, hours, precision drops.

A published model ``models/NAME.pt`` (written by ``scripts/publish_checkpoint.py``)
comes with files beside it, each optional except the scores:

- ``NAME.val.json``: ``edgeseg eval`` of the checkpoint on val (mIoU in [0, 1]);
- ``NAME.metrics.jsonl``: every epoch of its run (``seconds`` per epoch);
- ``NAME.recipe.metrics.jsonl``: every epoch of the recipe run, which trained
  on two drives and scored the third (docs/protocol.md);
- ``NAME.precision.json``: FP16 and INT8 mIoU drops through the export gate
  (``scripts/precision_drops.py``).

:func:`published_record` reads them without loading any model, for the zoo
table (``scripts/zoo_table.py``) and the tests over committed models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PublishedRecord:
    """Scores and schedule of one published model; mIoU values in percent, ``None`` where not recorded.

    Attributes:
        val_miou: ``NAME.val.json``'s mIoU (val, the published weights).
        epoch, planned_epochs: the epoch the weights are from, and the schedule's length.
        hours: training wall time, the sum of the per-epoch seconds of the published run.
        held_out_miou: the recipe run's held-out-drive mIoU at its last epoch.
        held_out_drive: the drive that run scored (e.g. ``0006R0``).
        recipe_epochs: the recipe run's last epoch.
        recipe_hours: its wall time.
        fp16_drop, int8_drop: mIoU points lost against the FP32 ONNX on val (positive = worse).
    """

    val_miou: float
    epoch: int
    planned_epochs: int | None
    hours: float | None
    held_out_miou: float | None = None
    held_out_drive: str | None = None
    recipe_epochs: int | None = None
    recipe_hours: float | None = None
    fp16_drop: float | None = None
    int8_drop: float | None = None

    @property
    def last_epoch(self) -> bool:
        """True where the weights are the schedule's last epoch (the protocol), not a best-val pick."""
        return self.planned_epochs is not None and self.epoch == self.planned_epochs


def read_metrics(path: Path) -> list[dict]:
    """The epochs of a ``metrics.jsonl`` (one JSON object per line; blank lines skipped)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _hours(epochs: list[dict]) -> float | None:
    seconds = [e["seconds"] for e in epochs if "seconds" in e]
    return sum(seconds) / 3600 if seconds else None


def _sibling(checkpoint: Path, suffix: str) -> Path:
    return checkpoint.with_name(checkpoint.stem + suffix)


def published_record(checkpoint: Path) -> PublishedRecord:
    """Read the records beside ``checkpoint`` (``models/NAME.pt``); its ``NAME.val.json`` must exist."""
    scores = json.loads(_sibling(checkpoint, ".val.json").read_text(encoding="utf-8"))
    config = json.loads(_sibling(checkpoint, ".resolved_config.json").read_text(encoding="utf-8"))
    metrics_path = _sibling(checkpoint, ".metrics.jsonl")
    epochs = read_metrics(metrics_path) if metrics_path.is_file() else []
    epoch = _checkpoint_epoch(checkpoint)  # NAME.val.json does not record it
    fields: dict = {"val_miou": 100 * scores["miou"], "epoch": epoch, "planned_epochs": config.get("epochs"),
                    "hours": _hours(epochs)}
    recipe_path = _sibling(checkpoint, ".recipe.metrics.jsonl")
    if recipe_path.is_file():
        recipe = read_metrics(recipe_path)
        scored = [e for e in recipe if "val_miou" in e]
        recipe_config_path = _sibling(checkpoint, ".recipe.resolved_config.json")
        recipe_config = json.loads(recipe_config_path.read_text(encoding="utf-8")) if recipe_config_path.is_file() else {}
        drives = recipe_config.get("data", {}).get("val_prefixes") or []
        if scored and scored[-1]["epoch"] == recipe[-1]["epoch"]:
            fields["held_out_miou"] = 100 * scored[-1]["val_miou"]
        fields.update(held_out_drive="+".join(drives) or None, recipe_epochs=recipe[-1]["epoch"] if recipe else None,
                      recipe_hours=_hours(recipe))
    precision_path = _sibling(checkpoint, ".precision.json")
    if precision_path.is_file():
        precision = json.loads(precision_path.read_text(encoding="utf-8"))
        fields.update(fp16_drop=precision["fp16"]["drop_points"], int8_drop=precision["int8"]["drop_points"])
    return PublishedRecord(**fields)


def _checkpoint_epoch(checkpoint: Path) -> int:
    from .checkpoint import load_checkpoint

    return int(load_checkpoint(checkpoint)["epoch"])
