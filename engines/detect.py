"""``--target auto``: the target that matches the machine this runs on.

Order: the Jetson model from the device tree (``/proc/device-tree/model``),
else the compute capability of GPU 0 (through cuda-python; no driver or no
cuda-python falls through), else ``cpu``. The reason for the pick is returned
so the command line can say which target it chose and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from edgeseg.errors import EdgesegError

from .cuda_rt import GpuInfo, query_gpu
from .targets import Target, load_targets

log = logging.getLogger("edgeseg.engines")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def read_jetson_model(path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The device-tree model string ("NVIDIA Jetson AGX Orin Developer Kit"), None off Jetson."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    model = raw.replace(b"\0", b"").decode(errors="replace").strip()
    return model or None


def match_jetson(model: str, targets: dict[str, Target]) -> Target | None:
    """The target whose longest ``jetson_models`` substring occurs in ``model`` (case-insensitive)."""
    best: tuple[int, Target] | None = None
    for target in targets.values():
        for pattern in target.jetson_models:
            if pattern.lower() in model.lower() and (best is None or len(pattern) > best[0]):
                best = (len(pattern), target)
    return best[1] if best else None


def match_gpu(gpu: GpuInfo, targets: dict[str, Target]) -> Target | None:
    """The first non-Jetson target (by name) listing the GPU's compute capability."""
    for target in sorted(targets.values(), key=lambda t: t.name):
        if not target.jetson_models and gpu.compute_capability in target.compute_capability:
            return target
    return None


def detect_target(targets: dict[str, Target] | None = None, *, device_tree: Path = DEVICE_TREE_MODEL,
                  gpu_probe: Callable[[], GpuInfo] = query_gpu) -> tuple[Target, str]:
    """(target, reason) for this machine; see the module docstring for the order."""
    targets = load_targets() if targets is None else targets
    model = read_jetson_model(device_tree)
    if model is not None:
        found = match_jetson(model, targets)
        if found is not None:
            return found, f"device tree says '{model}'"
        log.warning("device tree model '%s' matches no Jetson target; trying the GPU", model)
    try:
        gpu = gpu_probe()
    except EdgesegError as exc:  # no cuda-python, no driver, no device: fall through to cpu
        reason = f"no usable CUDA GPU ({str(exc).split(';')[0]})"
    else:
        found = match_gpu(gpu, targets)
        if found is not None:
            return found, f"GPU {gpu.name} has compute capability {gpu.compute_capability}"
        reason = f"GPU {gpu.name} (compute capability {gpu.compute_capability}) matches no target"
    if "cpu" not in targets:
        raise EdgesegError(f"--target auto: {reason}, and there is no 'cpu' target to fall back to")
    return targets["cpu"], reason


def resolve_target(name: str, **detect_kwargs) -> Target:
    """``name`` from the target files, or the detected one for ``auto`` (logged with its reason)."""
    from .targets import get_target

    if name != "auto":
        return get_target(name)
    target, reason = detect_target(**detect_kwargs)
    print(f"--target auto: picked '{target.name}' ({reason})")
    return target
