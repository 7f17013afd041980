"""Test helpers shared across test folders (importable as ``helpers``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "camvid"
COMMITTED_ENET = ROOT / "models" / "camvid_enet.pt"
def tiny_train_overrides(**extra) -> list[str]:
    """Overrides that train ENet on 4 sample images at 96x128 in seconds."""
    values = {
        "data.root": str(SAMPLES), "data.train_split": "val", "data.val_split": "val",
        "data.height": 96, "data.width": 128, "augment.crop_height": 96, "augment.crop_width": 128,
        "augment.scale_min": 0.25, "augment.scale_max": 0.35,
        "max_train_images": 4, "max_val_images": 2, "batch_size": 2, "warmup_epochs": 0,
        "lr": 5e-3, "threads": 1,
    }
    values.update(extra)
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, str):
            value = f'"{value}"'
        out.append(f"{key}={value}")
    return out
