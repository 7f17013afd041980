"""What a benchmark ran on, recorded with every result.

Fields that change timings (CPU, GPU, driver, library versions, threads,
power mode) are compared before a baseline check; fields that merely
describe the run (host name, time, engine key) are recorded only.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

# Keys compared between a baseline and the current run.
COMPARED_KEYS = (
    "cpu_model", "cpu_count", "machine", "gpu", "gpu_driver", "tensorrt", "onnxruntime", "openvino", "opencv",
    "backend", "providers", "threads", "jetson_model", "jetson_power_mode",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    for line in info.splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _run(cmd: list[str]) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def gpu_info() -> tuple[str | None, str | None]:
    """(GPU name, driver version) from nvidia-smi, or the Jetson model; (None, None) without a GPU."""
    text = _run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])
    if text:
        name, _, driver = text.splitlines()[0].partition(",")
        return name.strip(), driver.strip() or None
    model = _read("/proc/device-tree/model")
    if model and "jetson" in model.lower():
        return model, _read("/proc/driver/nvidia/version")
    return None, None


def jetson_state() -> dict[str, Any]:
    """Power mode (nvpmodel) and whether clocks are locked (jetson_clocks), where readable."""
    model = _read("/proc/device-tree/model")
    if not model or "jetson" not in model.lower():
        return {"jetson_model": None, "jetson_power_mode": None, "jetson_clocks_locked": None}
    mode = _run(["nvpmodel", "-q"])
    clocks = _run(["jetson_clocks", "--show"])
    locked = None
    if clocks:
        # Locked clocks show MinFreq equal to MaxFreq for the GPU and CPUs.
        lines = [ln for ln in clocks.splitlines() if "MinFreq" in ln and "MaxFreq" in ln]
        if lines:
            def same(ln: str) -> bool:
                fields = dict(part.split("=", 1) for part in ln.split() if "=" in part)
                return fields.get("MinFreq") == fields.get("MaxFreq")
            locked = all(same(ln) for ln in lines)
    return {"jetson_model": model, "jetson_power_mode": mode.splitlines()[0] if mode else None,
            "jetson_clocks_locked": locked}


def _version(module: str) -> str | None:
    import importlib

    try:
        return getattr(importlib.import_module(module), "__version__", "unknown")
    except ImportError:
        return None


def collect(backend_name: str, providers: list[str] | None, threads: int, engine_key: str | None = None) -> dict[str, Any]:
    """The environment of this process for a benchmark of ``backend_name``."""
    import datetime

    import cv2
    import numpy as np

    gpu, driver = gpu_info()
    env = {
        "host": platform.node(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
        "gpu_driver": driver,
        "tensorrt": _version("tensorrt"),
        "onnxruntime": _version("onnxruntime"),
        # only where it runs the model: baselines of the other backends stay comparable with or without it installed
        "openvino": _version("openvino") if backend_name == "openvino" else None,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "backend": backend_name,
        "providers": providers,
        "threads": threads,
        "engine_key": engine_key,
        "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    env.update(jetson_state())
    return env


def differences(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences in the compared keys (empty if the environments match)."""
    out = []
    for key in COMPARED_KEYS:
        if baseline.get(key) != current.get(key):
            out.append(f"{key}: baseline {baseline.get(key)!r}, now {current.get(key)!r}")
    return out
