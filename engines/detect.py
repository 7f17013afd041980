"""``--target auto``: the target that matches the machine this runs on.

Order:

1. a Jetson's device tree: its ``model`` string, else its module part number
   (``compatible``), matched against the targets' ``jetson_models``;
2. GPU 0 through cuda-python: an integrated GPU is a Jetson even where the
   device tree is masked (a container), and its compute capability, SM count
   and memory name the module (:func:`edgeseg.engines.jetson.module_from_gpu`);
   a discrete GPU is matched by compute capability;
3. else ``cpu`` (no cuda-python, no driver, no device: said why, and on a
   Jetson whose GPU cannot be reached, what to do).

The reason for the pick is returned so the command line can say which target
it chose and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from edgeseg.cuda_rt import GpuInfo, query_gpu
from edgeseg.errors import EdgesegError

from .jetson import JetsonFacts, module_from_gpu, read_facts
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


def detect_target(targets: dict[str, Target] | None = None, *, device_tree: Path | None = None,
                  root: Path = Path("/"), gpu_probe: Callable[[], GpuInfo] = query_gpu) -> tuple[Target, str]:
    """(target, reason) for this machine; see the module docstring for the order.

    ``root``: where the Jetson files are read (tests lay out a fake one);
    ``device_tree``: the model file, when not ``root``'s.
    """
    targets = load_targets() if targets is None else targets
    facts = read_facts(root)
    model = read_jetson_model(device_tree) if device_tree is not None else facts.model
    for name, where in ((model, "device tree says"), (facts.module, "device tree module part number says")):
        if name is None:
            continue
        found = match_jetson(name, targets)
        if found is not None:
            return found, f"{where} '{name}'"
        log.warning("Jetson '%s' matches no target; trying the GPU", name)
    try:
        gpu = gpu_probe()
    except EdgesegError as exc:  # no cuda-python, no driver, no device: fall through to cpu
        reason = f"no usable CUDA GPU ({str(exc).split(';')[0]})"
        if facts.is_jetson:
            reason += (f"; this is a Jetson ({jetson_summary(facts)}): in a container, run it with --runtime nvidia "
                       "(NVIDIA Container Toolkit) so the GPU is reachable")
    else:
        if gpu.integrated or (gpu.integrated is None and facts.is_jetson):
            name, why = module_from_gpu(gpu, facts.dla_devices)
            found = match_jetson(name, targets) if name else None
            if found is not None:
                return found, f"{why}: a {name}"
            reason = f"{why}; matches no Jetson target"
        else:
            found = match_gpu(gpu, targets)
            if found is not None:
                return found, f"GPU {gpu.name} has compute capability {gpu.compute_capability}"
            reason = f"GPU {gpu.name} (compute capability {gpu.compute_capability}) matches no target"
    if "cpu" not in targets:
        raise EdgesegError(f"--target auto: {reason}, and there is no 'cpu' target to fall back to")
    return targets["cpu"], reason


def jetson_summary(facts: JetsonFacts) -> str:
    """One line: module or model, L4T and JetPack, chip."""
    parts = [facts.model or facts.module or "model unknown"]
    if facts.l4t:
        parts.append(f"L4T R{facts.l4t}, JetPack {facts.jetpack or '?'}")
    if facts.chip:
        parts.append(facts.chip)
    return ", ".join(parts)


def resolve_target(name: str, **detect_kwargs) -> Target:
    """``name`` from the target files, or the detected one for ``auto`` (logged with its reason)."""
    from .targets import get_target

    if name != "auto":
        return get_target(name)
    target, reason = detect_target(**detect_kwargs)
    print(f"--target auto: picked '{target.name}' ({reason})")
    return target
