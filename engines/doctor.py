"""``edgeseg doctor``: what this machine has for the deploy path, and what to install for what is missing.

Reports the platform (and, on a Jetson, the module, L4T release and JetPack),
the TensorRT and CUDA versions, the cuda-python in use, which ``cv2`` is
loaded and whether it has GStreamer (``csi://`` cameras, GStreamer pipelines)
and CUDA, onnxruntime, and the target ``--target auto`` would pick and why.
Each problem found comes with the command that fixes it, taken from the
version matrix in :mod:`.platforms`.

Every probe is injectable (``Probes``) so the report can be tested for
machines this one is not; by default each probe is the real one.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

from .jetson import JetsonFacts, read_facts
from .platforms import Platform, desktop_platform, jetpack_platform


@dataclass
class Probes:
    """Where the report's facts come from (tests replace any of them)."""

    root: Path = Path("/")
    import_cv2: Callable[[], Any] = lambda: __import__("cv2")
    import_tensorrt: Callable[[], Any] = lambda: __import__("tensorrt")
    cuda_runtime: Callable[[], Any] = lambda: _real_cuda_runtime()
    python_version: tuple[int, int] = sys.version_info[:2]


def _real_cuda_runtime() -> Any:
    from edgeseg.cuda_rt import CudaRuntime

    return CudaRuntime()


@dataclass
class Report:
    """The lines of the report by section, and the fixes (commands with why)."""

    sections: dict[str, list[str]] = field(default_factory=dict)
    fixes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, line: str) -> None:
        self.sections.setdefault(section, []).append(line)

    def text(self) -> str:
        out = []
        for name, lines in self.sections.items():
            out.append(f"{name}:")
            out.extend(f"  {line}" for line in lines)
        out.append("to do:" if self.fixes else "to do: nothing; everything the deploy path needs is here")
        out.extend(f"  - {fix}" for fix in self.fixes)
        return "\n".join(out)


def cv2_facts(cv2: Any) -> dict[str, Any]:
    """Version, file, and whether its build has GStreamer and CUDA (from ``cv2.getBuildInformation()``)."""
    info = cv2.getBuildInformation()

    def has(label: str) -> bool:
        m = re.search(rf"^\s*{label}:\s*(\S+)", info, re.MULTILINE)
        return m is not None and m.group(1).upper().startswith("YES")

    path = str(getattr(cv2, "__file__", "") or "")
    return {"version": str(cv2.__version__), "file": path, "gstreamer": has("GStreamer"),
            "cuda": has("NVIDIA CUDA"), "from_pypi": "site-packages" in path}


def _opencv_section(report: Report, probes: Probes, jetson: JetsonFacts) -> None:
    fix_jetson = ("use JetPack's OpenCV (it has GStreamer): pip uninstall opencv-python opencv-python-headless, "
                  "and make the virtual environment with --system-site-packages (python3 -m venv --system-site-packages "
                  ".venv) so it sees /usr/lib/python3/dist-packages/cv2")
    fix_desktop = ("for csi:// and GStreamer pipelines, use an OpenCV built with GStreamer: the system one (apt install "
                   "python3-opencv, in a venv made with --system-site-packages) instead of the PyPI wheel "
                   "(pip uninstall opencv-python-headless); files, /dev/video cameras and RTSP work without")
    try:
        cv2 = probes.import_cv2()
    except ImportError:
        report.add("OpenCV", "cv2: not importable (every run/eval/bench needs it)")
        report.fixes.append(fix_jetson if jetson.is_jetson else "pip install 'edgeseg[opencv]' (PyPI's OpenCV; "
                            "see docs/jetson.md for an OpenCV with GStreamer)")
        report.facts["cv2"] = None
        return
    facts = cv2_facts(cv2)
    report.facts["cv2"] = facts
    where = "PyPI wheel" if facts["from_pypi"] else "system package"
    report.add("OpenCV", f"cv2 {facts['version']} ({where}: {facts['file']})")
    report.add("OpenCV", f"GStreamer: {'yes' if facts['gstreamer'] else 'no (csi:// and GStreamer pipelines cannot open)'}")
    report.add("OpenCV", f"CUDA: {'yes' if facts['cuda'] else 'no'}")
    if not facts["gstreamer"]:
        report.fixes.append(fix_jetson if jetson.is_jetson else fix_desktop)


def _tensorrt_section(report: Report, probes: Probes, jetson: JetsonFacts, row: Platform | None) -> None:
    install = row.tensorrt_install if row else "pip install tensorrt-cu12 (desktop) or JetPack's python3-libnvinfer"
    try:
        trt = probes.import_tensorrt()
        version = str(trt.__version__) if hasattr(trt, "Builder") else None
    except ImportError:
        version = None
    report.facts["tensorrt"] = version
    if version is None:
        report.add("TensorRT", "not installed (the cpu target and --backend onnxruntime still work)")
        report.fixes.append(f"for TensorRT engines: {install}")
        return
    report.add("TensorRT", f"{version}")
    shipped = {m.split(".")[0] for m in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\(.*?\)", "", row.tensorrt))} if row else set()
    if jetson.is_jetson and row and version.split(".")[0] not in shipped:
        report.add("TensorRT", f"note: {row.name} ships TensorRT {row.tensorrt}, not {version}")


def _cuda_section(report: Report, probes: Probes, jetson: JetsonFacts, row: Platform | None) -> Any | None:
    """cuda-python, driver and GPU; returns the GPU (GpuInfo) or None."""
    from edgeseg.cuda_rt import CudaError

    try:
        cuda = probes.cuda_runtime()
    except EdgesegError:
        report.add("CUDA", "cuda-python: not installed")
        need = row.cuda_python if row else "cuda-python (the major of your driver's CUDA)"
        extra = row.extra if row else "trt"
        report.fixes.append(f"pip install 'edgeseg[{extra}]' (installs {need})")
        report.facts["cuda_python"] = None
        return None
    cp_version = cuda.version_text()
    module = getattr(cuda.rt, "__name__", "?")
    report.facts["cuda_python"] = cp_version
    report.add("CUDA", f"cuda-python {cp_version} ({module})")
    try:
        driver, runtime = cuda.driver_and_runtime_versions()
    except CudaError:
        driver, runtime = 0, 0
    report.facts["cuda_driver"] = driver
    report.add("CUDA", f"driver: {'none found' if not driver else f'CUDA {driver // 1000}.{driver % 1000 // 10}'}"
                       f"{f', cuda-python built for CUDA {runtime // 1000}.{runtime % 1000 // 10}' if runtime else ''}")
    cp_major = int(cp_version.split(".")[0]) if cp_version[:1].isdigit() else 0
    want = row or (desktop_platform(driver // 1000) if driver else None)
    if want and cp_major and not want.cuda_python.startswith(f"cuda-python>={cp_major}"):
        report.add("CUDA", f"mismatch: {want.name} (CUDA {want.cuda}) needs {want.cuda_python}, "
                           f"this is cuda-python {cp_version}: its calls fail (CUDA error 35)")
        report.fixes.append(f"pip install '{want.cuda_python}' (or pip install 'edgeseg[{want.extra}]')")
    try:
        gpu = cuda.device_info(0)
    except CudaError as exc:
        report.add("CUDA", f"GPU: none usable ({str(exc).split(';')[0]})")
        if jetson.is_jetson:
            report.fixes.append("in a container on a Jetson, run it with --runtime nvidia (NVIDIA Container Toolkit)")
        return None
    kind = "integrated" if gpu.integrated else "discrete"
    report.add("CUDA", f"GPU 0: {gpu.name}, compute capability {gpu.compute_capability}, {gpu.multiprocessors} SMs, "
                       f"{gpu.memory_mib} MiB, {kind}")
    return gpu


def make_report(probes: Probes | None = None) -> Report:
    """The full report (see the module docstring)."""
    from .detect import detect_target, jetson_summary

    probes = probes or Probes()
    report = Report()
    jetson = read_facts(probes.root)
    row = jetpack_platform(jetson.jetpack)
    py = f"{probes.python_version[0]}.{probes.python_version[1]}"
    report.add("platform", f"{platform.system()} {platform.machine()}, Python {py}")
    report.facts["python"] = py
    if jetson.is_jetson:
        report.add("platform", f"Jetson: {jetson_summary(jetson)} (from {', '.join(jetson.sources)})")
        if jetson.dla_devices:
            report.add("platform", f"DLA devices: {jetson.dla_devices}")
        if row and py != row.python:
            report.add("platform", f"note: {row.name}'s TensorRT bindings are for Python {row.python}")
    else:
        report.add("platform", "not a Jetson (no device tree, /etc/nv_tegra_release or tegra chip id)")
    if probes.python_version < (3, 10):
        report.add("platform", "Python < 3.10: run, eval, bench and build work; train and export need Python 3.10+")
    report.facts["jetson"] = {"model": jetson.model, "module": jetson.module, "l4t": jetson.l4t, "jetpack": jetson.jetpack}
    _tensorrt_section(report, probes, jetson, row)
    gpu = _cuda_section(report, probes, jetson, row)
    _opencv_section(report, probes, jetson)
    try:
        import onnxruntime

        report.add("onnxruntime", f"{onnxruntime.__version__}, providers {', '.join(onnxruntime.get_available_providers())}")
    except ImportError:
        report.add("onnxruntime", "not installed")
        report.fixes.append("pip install onnxruntime (the cpu target and --backend onnxruntime)")

    def probe_gpu() -> Any:
        if gpu is None:
            raise EdgesegError("see CUDA above")
        return gpu

    target, reason = detect_target(root=probes.root, gpu_probe=probe_gpu)
    report.add("--target auto", f"{target.name}: {reason}")
    report.facts["target"] = {"name": target.name, "reason": reason}
    return report


def run_doctor(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg doctor``."""
    report = make_report()
    if getattr(args, "json", False):
        print(json.dumps({**report.facts, "fixes": report.fixes}, indent=2))
    else:
        print(report.text())
    return 0
