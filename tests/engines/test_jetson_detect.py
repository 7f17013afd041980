"""--target auto on a Jetson whose device tree is masked (a container), and Orin modules told apart.

The Jetson files are laid out under a temporary root (the real paths, fake
contents copied from real devices' formats); the GPU comes from a probe
returning what cudaGetDeviceProperties reports on each module.
"""

from __future__ import annotations

import json

import pytest
from helpers import make_contract_onnx

from edgeseg.cuda_rt import CudaError, GpuInfo
from edgeseg.engines.build import build
from edgeseg.engines.detect import detect_target
from edgeseg.engines.jetson import module_from_gpu, read_facts
from edgeseg.engines.targets import get_target
from edgeseg.errors import EdgesegError
from edgeseg.sidecar import check_artifact

# what the runtime reports on each module: name "Orin" and 8.7 on all of them
AGX_ORIN_64 = GpuInfo("Orin", "8.7", 16, 62841, True)
AGX_ORIN_32 = GpuInfo("Orin", "8.7", 14, 30536, True)
ORIN_NX_16 = GpuInfo("Orin", "8.7", 8, 15656, True)
ORIN_8GB = GpuInfo("Orin", "8.7", 8, 7620, True)  # Orin NX 8GB and Orin Nano 8GB alike
ORIN_NANO_4 = GpuInfo("Orin", "8.7", 4, 3450, True)
TEGRA_RELEASE = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n"


def container_root(tmp_path, *, release=TEGRA_RELEASE, chip="35", dla=False):
    """What a default container on a Jetson sees: no device tree, the L4T release file, sysfs."""
    (tmp_path / "etc").mkdir(parents=True, exist_ok=True)
    if release:
        (tmp_path / "etc/nv_tegra_release").write_text(release)
    if chip:
        fuse = tmp_path / "sys/module/tegra_fuse/parameters"
        fuse.mkdir(parents=True, exist_ok=True)
        (fuse / "tegra_chip_id").write_text(chip + "\n")
    if dla:
        (tmp_path / "dev").mkdir(exist_ok=True)
        (tmp_path / "dev/nvhost-ctrl-nvdla0").write_text("")
    return tmp_path


@pytest.mark.parametrize(("gpu", "dla", "expected", "module"), [
    (AGX_ORIN_64, True, "jetson-agx-orin", "Jetson AGX Orin 64GB"),
    (AGX_ORIN_32, True, "jetson-agx-orin", "Jetson AGX Orin 32GB"),
    (ORIN_NX_16, True, "jetson-orin-nx", "Jetson Orin NX 16GB"),
    (ORIN_8GB, True, "jetson-orin-nx", "Jetson Orin NX 8GB"),
    (ORIN_8GB, False, "jetson-orin-nano", "Jetson Orin Nano 8GB"),
    (ORIN_NANO_4, False, "jetson-orin-nano", "Jetson Orin Nano 4GB"),
])
def test_orin_in_a_container_is_found_by_its_gpu(tmp_path, gpu, dla, expected, module):
    root = container_root(tmp_path, dla=dla)
    target, reason = detect_target(root=root, gpu_probe=lambda: gpu)
    assert target.name == expected and module in reason and f"{gpu.multiprocessors} SMs" in reason


def test_module_part_number_names_the_module_without_the_gpu(tmp_path):
    tree = tmp_path / "sys/firmware/devicetree/base"
    tree.mkdir(parents=True)
    (tree / "compatible").write_bytes(b"nvidia,p3768-0000+p3767-0001\0nvidia,p3767-0001\0nvidia,tegra234\0")

    def no_probe():
        raise AssertionError("the GPU must not be probed when the device tree names the module")

    target, reason = detect_target(root=tmp_path, gpu_probe=no_probe)
    assert target.name == "jetson-orin-nx" and "p3767-0001" not in reason and "Jetson Orin NX 8GB" in reason


def test_jetson_whose_gpu_is_unreachable_says_how_to_reach_it(tmp_path):
    root = container_root(tmp_path)

    def no_driver():
        raise CudaError("CUDA is not usable here: no NVIDIA driver (CUDA error 35); install it", 35)

    target, reason = detect_target(root=root, gpu_probe=no_driver)
    assert target.name == "cpu"
    assert "this is a Jetson (model unknown, L4T R36.4.3, JetPack 6.1/6.2, Orin (T234))" in reason
    assert "--runtime nvidia" in reason


def test_discrete_gpu_is_still_matched_by_compute_capability(tmp_path):
    target, _ = detect_target(root=tmp_path, gpu_probe=lambda: GpuInfo("NVIDIA H100", "9.0", 132, 81000, False))
    assert target.name == "desktop-hopper"


@pytest.mark.parametrize(("release", "l4t", "jetpack"), [
    ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64", "35.4.1", "5.1.2"),
    ("# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64", "36.3.0", "6.0"),
    (TEGRA_RELEASE, "36.4.3", "6.1/6.2"),
    ("# R38 (release), REVISION: 2.0, GCID: 41844464, BOARD: generic, EABI: aarch64", "38.2.0", "7.0"),
])
def test_l4t_release_gives_the_jetpack(tmp_path, release, l4t, jetpack):
    facts = read_facts(container_root(tmp_path, release=release))
    assert (facts.l4t, facts.jetpack, facts.chip, facts.is_jetson) == (l4t, jetpack, "Orin (T234)", True)


def test_off_jetson_nothing_is_claimed(tmp_path):
    facts = read_facts(tmp_path)
    assert not facts.is_jetson and facts.jetpack is None
    assert module_from_gpu(GpuInfo("NVIDIA RTX 4090", "8.9", 128, 24000, False))[0] is None


def test_engine_built_on_an_agx_orin_is_refused_on_an_orin_nano(tmp_path, monkeypatch, install_fake_trt):
    """Both say 'Orin' 8.7: the sidecar's SM count tells them apart."""
    monkeypatch.setenv("EDGESEG_CACHE_DIR", str(tmp_path / "cache"))
    install_fake_trt("10.3.0.30")
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx")
    result = build(path, get_target("jetson-agx-orin"), tmp_path / "out", gpu_probe=lambda: AGX_ORIN_64)
    side = json.loads(result.sidecar.read_text())
    assert side["gpu"] == {"name": "Orin", "compute_capability": "8.7", "multiprocessors": 16, "memory_mib": 62841,
                           "integrated": True}
    check_artifact(result.artifact, runtime="tensorrt", runtime_version="10.3.0.30", gpu=AGX_ORIN_64)
    with pytest.raises(EdgesegError, match=r"built on a Orin GPU with 16 SMs \(61 GiB\), but this one has 8 SMs"):
        check_artifact(result.artifact, runtime="tensorrt", runtime_version="10.3.0.30", gpu=ORIN_8GB)


def test_building_a_jetson_target_on_another_module_is_refused(tmp_path, monkeypatch, install_fake_trt):
    monkeypatch.setenv("EDGESEG_CACHE_DIR", str(tmp_path / "cache"))
    fake = install_fake_trt("10.3.0.30")
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx")
    with pytest.raises(EdgesegError, match=r"this machine is a Jetson AGX Orin 64GB .* not a jetson-orin-nano"):
        build(path, get_target("jetson-orin-nano"), tmp_path / "out", gpu_probe=lambda: AGX_ORIN_64)
    assert not (tmp_path / "out").exists() and not [c for c in fake.calls if c[0] == "Builder"]
    # an 8 SM, 8 GB Orin is a Nano or an NX 8GB: both targets build there
    for name in ("jetson-orin-nano", "jetson-orin-nx"):
        build(path, get_target(name), tmp_path / "out", gpu_probe=lambda: ORIN_8GB, use_dla=False)


def test_tegra_driver_library_alone_marks_a_jetson(tmp_path):
    """A container with only JetPack's mounted GPU library: a Jetson, and the integrated GPU names the module."""
    lib = tmp_path / "usr/lib/aarch64-linux-gnu/tegra"
    lib.mkdir(parents=True)
    (lib / "libnvrm_gpu.so").write_bytes(b"\x7fELF")
    facts = read_facts(tmp_path)
    assert facts.is_jetson and facts.sources == ("/usr/lib/aarch64-linux-gnu/tegra/libnvrm_gpu.so",)
    unknown = GpuInfo("Orin", "8.7", 4, 3450, None)  # integrated flag unknown: the Jetson hint decides
    target, reason = detect_target(root=tmp_path, gpu_probe=lambda: unknown)
    assert target.name == "jetson-orin-nano" and "Jetson Orin Nano 4GB" in reason
