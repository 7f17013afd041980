"""Is this a Jetson, which module, which JetPack: from every place that tells, container or not.

A default Docker container masks ``/proc/device-tree`` (and often
``/sys/firmware/devicetree``), so the model string alone misses an Orin in a
container. What else tells, most specific first:

- the device tree's ``model`` ("NVIDIA Jetson AGX Orin Developer Kit") and
  ``compatible`` ("nvidia,p3768-0000+p3767-0005", whose module part number
  names the exact module: :data:`MODULE_SKUS`);
- ``/etc/nv_tegra_release`` (L4T release; NVIDIA's container runtime mounts
  it into containers), which gives the JetPack (:data:`L4T_TO_JETPACK`);
- ``/sys/module/tegra_fuse/parameters/tegra_chip_id`` (25 Xavier, 35 Orin, 38 Thor);
- JetPack's GPU driver library ``libnvrm_gpu.so`` (``/usr/lib/aarch64-linux-gnu/tegra/``);
- the GPU itself through CUDA: an *integrated* GPU of compute capability 8.7
  is an Orin, and its multiprocessor count and memory tell which
  (:func:`module_from_gpu`); DLA device nodes tell an Orin NX 8 GB from an
  Orin Nano 8 GB, which have the same GPU.

Every path is read under ``root`` so tests can lay out a fake filesystem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgeseg.cuda_rt import GpuInfo

MODEL_FILES = ("proc/device-tree/model", "sys/firmware/devicetree/base/model")
COMPATIBLE_FILES = ("proc/device-tree/compatible", "sys/firmware/devicetree/base/compatible")
TEGRA_RELEASE = "etc/nv_tegra_release"
CHIP_ID = "sys/module/tegra_fuse/parameters/tegra_chip_id"
# JetPack's GPU driver libraries; NVIDIA's container runtime mounts them into containers
TEGRA_LIB_GLOBS = ("usr/lib/aarch64-linux-gnu/tegra/libnvrm_gpu.so*", "usr/lib/aarch64-linux-gnu/nvidia/libnvrm_gpu.so*")
DLA_GLOBS = ("dev/nvhost-ctrl-nvdla*", "dev/nvhost-nvdla*", "sys/bus/platform/devices/*nvdla*")
CHIPS = {25: "Xavier (T194)", 35: "Orin (T234)", 38: "Thor (T264)"}

# module part number (device tree "compatible") -> module name, as its device-tree model would say it
MODULE_SKUS = {
    "p3701-0000": "Jetson AGX Orin 32GB", "p3701-0004": "Jetson AGX Orin 32GB", "p3701-0005": "Jetson AGX Orin 64GB",
    "p3701-0008": "Jetson AGX Orin Industrial",
    "p3767-0000": "Jetson Orin NX 16GB", "p3767-0001": "Jetson Orin NX 8GB",
    "p3767-0003": "Jetson Orin Nano 8GB", "p3767-0004": "Jetson Orin Nano 4GB", "p3767-0005": "Jetson Orin Nano 8GB",
    "p3668-0000": "Jetson Xavier NX", "p3668-0001": "Jetson Xavier NX", "p3668-0003": "Jetson Xavier NX 16GB",
    "p2888-0001": "Jetson AGX Xavier", "p2888-0004": "Jetson AGX Xavier", "p2888-0008": "Jetson AGX Xavier",
    "p3834-0008": "Jetson AGX Thor",
}
# L4T (major, minor) -> JetPack
L4T_TO_JETPACK = {(35, 1): "5.0.2", (35, 2): "5.1", (35, 3): "5.1.1", (35, 4): "5.1.2", (35, 5): "5.1.3", (35, 6): "5.1.4",
                  (36, 2): "6.0 DP", (36, 3): "6.0", (36, 4): "6.1/6.2", (38, 2): "7.0", (38, 3): "7.1", (38, 4): "7.2"}


@dataclass(frozen=True)
class JetsonFacts:
    """What the files say: each None where its file is absent (or masked)."""

    model: str | None = None
    module: str | None = None  # from the device tree's module part number
    l4t: str | None = None  # "36.4.3"
    chip: str | None = None
    dla_devices: int = 0
    sources: tuple[str, ...] = field(default=())
    tegra_libs: bool = False

    @property
    def is_jetson(self) -> bool:
        return bool(self.model or self.module or self.l4t or self.chip or self.tegra_libs)

    @property
    def jetpack(self) -> str | None:
        if not self.l4t:
            return None
        major, minor = (int(p) for p in self.l4t.split(".")[:2])
        return L4T_TO_JETPACK.get((major, minor)) or {35: "5.x", 36: "6.x", 38: "7.x"}.get(major)


def _read(root: Path, relative: str) -> bytes | None:
    try:
        return (root / relative).read_bytes()
    except OSError:
        return None


def read_facts(root: Path = Path("/")) -> JetsonFacts:
    """The Jetson facts readable under ``root`` (see the module docstring)."""
    sources = []
    model = module = l4t = chip = None
    for relative in MODEL_FILES:
        raw = _read(root, relative)
        if raw and raw.replace(b"\0", b"").strip():
            model = raw.replace(b"\0", b"").decode(errors="replace").strip()
            sources.append("/" + relative)
            break
    for relative in COMPATIBLE_FILES:
        raw = _read(root, relative)
        if raw:
            for sku in re.findall(r"p\d{4}-\d{4}", raw.decode(errors="replace")):
                if sku in MODULE_SKUS:  # carrier boards (p3768, p3509, p3737) are not listed
                    module = MODULE_SKUS[sku]
                    sources.append(f"/{relative} ({sku})")
                    break
        if module:
            break
    raw = _read(root, TEGRA_RELEASE)
    if raw:
        m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", raw.decode(errors="replace"))
        if m:
            l4t = f"{m.group(1)}.{m.group(2)}"
            sources.append("/" + TEGRA_RELEASE)
    raw = _read(root, CHIP_ID)
    if raw and raw.strip():
        text = raw.decode(errors="replace").strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            number = -1
        chip = CHIPS.get(number, f"Tegra chip {text}")
        sources.append("/" + CHIP_ID)
    dla = len({p.name for pattern in DLA_GLOBS for p in root.glob(pattern)})
    libs = [p for pattern in TEGRA_LIB_GLOBS for p in root.glob(pattern)]
    if libs:
        sources.append("/" + str(libs[0].relative_to(root)))
    return JetsonFacts(model, module, l4t, chip, dla, tuple(sources), bool(libs))


def module_from_gpu(gpu: GpuInfo, dla_devices: int = 0) -> tuple[str | None, str]:
    """(module name or None, why) from an integrated GPU's compute capability, SM count and memory.

    Orin (8.7): AGX Orin 16 SMs (64 GB) or 14 (32 GB); Orin NX 16 GB: 8 SMs and
    16 GB; Orin NX 8 GB and Orin Nano 8 GB: both 8 SMs and 8 GB, told apart by
    the DLA the NX has (no DLA device visible: the Nano, whose GPU-only engine
    also runs on an NX); Orin Nano 4 GB: 4 SMs. Xavier (7.2): 6 SMs Xavier NX,
    8 AGX Xavier. Thor: compute capability 11.0 (10.1 under CUDA 12.8/12.9).
    """
    if gpu.integrated is False:
        return None, f"GPU {gpu.name} is a discrete GPU"
    sms, gib = gpu.multiprocessors, gpu.memory_mib / 1024
    facts = f"integrated GPU {gpu.name}, compute capability {gpu.compute_capability}, {sms} SMs, {gib:.1f} GiB"
    if gpu.compute_capability == "8.7":
        if sms >= 14:
            return ("Jetson AGX Orin 64GB" if sms >= 16 else "Jetson AGX Orin 32GB"), facts
        if sms == 8 and gib > 12:
            return "Jetson Orin NX 16GB", facts
        if sms == 8:
            if dla_devices:
                return "Jetson Orin NX 8GB", f"{facts}, DLA present"
            return "Jetson Orin Nano 8GB", f"{facts}, no DLA device visible (an Orin NX 8GB would show one)"
        if sms == 4:
            return "Jetson Orin Nano 4GB", facts
        return None, f"{facts}: no Orin module has {sms} SMs"
    if gpu.compute_capability == "7.2":
        return ("Jetson Xavier NX" if sms <= 6 else "Jetson AGX Xavier"), facts
    if gpu.compute_capability in ("11.0", "10.1"):
        return "Jetson AGX Thor", facts
    return None, f"{facts}: not a Jetson GPU"
