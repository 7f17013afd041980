"""Checkpoint files: save atomically, load safely (``weights_only=True``).

A checkpoint is a dict::

    {"format": "edgeseg-checkpoint", "metadata": ModelMetadata dict,
     "model": state_dict, "epoch": completed epochs, "config": train config,
     "best_miou": float, "global_step": int,
     # only in training checkpoints (last.pt), for resume:
     "optimizer": ..., "scheduler": ...}

Only tensors, numbers, strings, lists and dicts are stored, so PyTorch's
restricted ``weights_only`` unpickler can read it and no code runs on load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from edgeseg.atomic import atomic_path
from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata

CHECKPOINT_FORMAT = "edgeseg-checkpoint"
TRAINING_ONLY_KEYS = ("optimizer", "scheduler", "torch_rng")  # torch_rng: written by older versions


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
    """Write ``checkpoint`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check an edgeseg checkpoint on the CPU.

    Raises:
        EdgesegError: the file is missing, empty, truncated, not a checkpoint,
            holds pickled code (refused), or lacks edgeseg's keys.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"checkpoint {path} does not exist; check the path (edgeseg train writes RUN/best.pt and RUN/last.pt)")
    if path.stat().st_size == 0:
        raise EdgesegError(f"checkpoint {path} is empty (0 bytes); an interrupted copy? re-copy or re-train it")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        text = str(exc)
        # torch words every weights_only failure alike; only a blocked GLOBAL is pickled code.
        if "GLOBAL" in text or "Unsupported global" in text:
            raise EdgesegError(
                f"checkpoint {path} was refused: it contains pickled Python objects, which could run code "
                "when loaded; edgeseg loads checkpoints with weights_only=True. Re-save it with edgeseg "
                "(state_dict plus metadata) from a trusted environment."
            ) from None
        raise EdgesegError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {text.splitlines()[0] if text else ''}); "
            "the file is truncated, corrupt or not a PyTorch checkpoint"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise EdgesegError(
            f"{path} is a PyTorch file but not an edgeseg checkpoint (no 'format': '{CHECKPOINT_FORMAT}'); "
            "train with 'edgeseg train' to get one"
        )
    for key in ("metadata", "model"):
        if key not in checkpoint:
            raise EdgesegError(f"checkpoint {path} lacks '{key}'")
    ModelMetadata.from_dict(checkpoint["metadata"], source=str(path))
    return checkpoint


def checkpoint_summary(path: str | os.PathLike) -> tuple[ModelMetadata, dict[str, Any]]:
    """The metadata of the checkpoint at ``path`` and its training facts (``epoch``, ``best_miou``), for ``edgeseg info``."""
    checkpoint = load_checkpoint(path)
    extra = {"epoch": checkpoint.get("epoch"), "best_miou": checkpoint.get("best_miou")}
    return ModelMetadata.from_dict(checkpoint["metadata"], source=str(path)), extra


def checkpoint_metadata(checkpoint: dict[str, Any], source: str = "checkpoint") -> ModelMetadata:
    return ModelMetadata.from_dict(checkpoint["metadata"], source=source)


# Factory arguments naming local files of starting weights (a pretrained backbone, SharpMask's
# first-stage DeepMask): used when training starts, never when a checkpoint is rebuilt.
INITIAL_WEIGHTS_ARGS = frozenset({"backbone_weights", "deepmask_weights"})


def weights_only_copy(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint without optimizer and RNG state (for shipping a model)."""
    return {k: v for k, v in checkpoint.items() if k not in TRAINING_ONLY_KEYS}


def model_from_checkpoint(checkpoint: dict[str, Any], source: str = "checkpoint") -> tuple[torch.nn.Module, ModelMetadata]:
    """Rebuild the model in eval mode, with its metadata."""
    from .models import build_model

    meta = checkpoint_metadata(checkpoint, source)
    # The checkpoint's weights replace any pretrained weights the run started from, and
    # those files need not exist where the checkpoint is used.
    arch_args = {k: v for k, v in meta.arch_args.items() if k not in INITIAL_WEIGHTS_ARGS}
    try:
        model = build_model(meta.architecture, meta.num_classes, **arch_args)
    except KeyError as exc:
        raise EdgesegError(f"{source}: {exc.args[0]}") from None
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise EdgesegError(f"{source}: weights do not fit architecture {meta.architecture!r}: {str(exc)[:300]}") from None
    return model.eval(), meta
