"""Shared fixtures: paths to the bundled samples and a tiny trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT, SAMPLES, tiny_train_overrides


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A ENet checkpoint trained for one epoch on 4 sample images (96x128)."""
    from edgeseg.config import load_config
    from edgeseg.train.config import TrainConfig
    from edgeseg.train.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = load_config(ROOT / "configs" / "camvid_enet.toml", TrainConfig, tiny_train_overrides(epochs=1))
    train(cfg, out, progress=False)
    return out / "best.pt"
