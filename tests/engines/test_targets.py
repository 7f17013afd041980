"""Targets as data, `edgeseg targets`, and `--target auto` detection (device tree and GPU probe injected)."""

from __future__ import annotations

import pytest

from edgeseg.cli import main
from edgeseg.cuda_rt import CudaError, GpuInfo
from edgeseg.engines.detect import detect_target
from edgeseg.engines.targets import get_target, load_targets
from edgeseg.errors import EdgesegError

REQUIRED = {"jetson-orin-nano", "jetson-orin-nx", "jetson-agx-orin", "jetson-xavier-nx", "jetson-agx-thor",
            "desktop-ampere", "desktop-ada", "desktop-hopper", "cpu"}


def test_builtin_targets():
    targets = load_targets()
    assert REQUIRED <= set(targets)
    assert targets["jetson-xavier-nx"].tensorrt_major == (8, 8)
    assert targets["jetson-agx-thor"].tensorrt_major == (10, 11) and targets["jetson-agx-thor"].dla_core is None
    assert targets["jetson-orin-nano"].dla_core is None            # Orin Nano has no DLA
    assert targets["jetson-agx-orin"].dla_core == 0 and targets["jetson-agx-orin"].gpu_fallback
    assert targets["cpu"].kind == "onnxruntime"
    for t in targets.values():
        assert t.input_height > 0 and t.input_width > 0 and t.batch > 0


def test_targets_command_lists_every_target(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == set(load_targets())
    assert "0+gpu" in lines["jetson-agx-orin"] and "8-8" in lines["jetson-xavier-nx"]


def test_user_target_file_and_bad_files(tmp_path, monkeypatch):
    (tmp_path / "my-board.toml").write_text(
        'description = "my board"\nkind = "tensorrt"\ntensorrt_major = [10, 10]\ncompute_capability = ["8.7"]\n'
        "input_height = 256\ninput_width = 512\n")
    monkeypatch.setenv("EDGESEG_TARGETS_DIR", str(tmp_path))
    assert get_target("my-board").input_width == 512
    (tmp_path / "bad.toml").write_text('description = "x"\nkind = "tensorrt"\ninput_height = 1\ninput_width = 1\nworkspace = 3\n')
    with pytest.raises(EdgesegError, match=r"bad.toml: unknown key 'workspace'; valid keys here: description, kind"):
        load_targets()
    (tmp_path / "bad.toml").unlink()
    with pytest.raises(EdgesegError, match="unknown target 'nope'; known targets: .*cpu"):
        get_target("nope")


@pytest.mark.parametrize(("model", "expected"), [
    ("NVIDIA Jetson Orin Nano Developer Kit", "jetson-orin-nano"),
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "jetson-orin-nx"),
    ("Jetson AGX Orin", "jetson-agx-orin"),
    ("NVIDIA Jetson Xavier NX Developer Kit", "jetson-xavier-nx"),
    ("NVIDIA Jetson AGX Thor Developer Kit", "jetson-agx-thor"),
])
def test_auto_from_device_tree(tmp_path, model, expected):
    tree = tmp_path / "model"
    tree.write_bytes(model.encode() + b"\0")  # the device tree's string ends in NUL

    def no_probe():
        raise AssertionError("the GPU must not be probed on a Jetson")

    target, reason = detect_target(device_tree=tree, gpu_probe=no_probe)
    assert target.name == expected and model in reason


@pytest.mark.parametrize(("cc", "expected"), [("8.6", "desktop-ampere"), ("8.0", "desktop-ampere"),
                                              ("8.9", "desktop-ada"), ("9.0", "desktop-hopper"), ("7.5", "cpu")])
def test_auto_from_gpu(tmp_path, cc, expected):
    target, reason = detect_target(device_tree=tmp_path / "absent", gpu_probe=lambda: GpuInfo("Some GPU", cc))
    assert target.name == expected and cc in reason


def test_auto_without_driver_falls_back_to_cpu(tmp_path):
    def no_driver():
        raise CudaError("CUDA is not usable here: no NVIDIA driver (CUDA error 35); install the driver", 35)

    target, reason = detect_target(device_tree=tmp_path / "absent", gpu_probe=no_driver)
    assert target.name == "cpu" and "no NVIDIA driver" in reason


def test_auto_with_real_cuda_python_here(tmp_path):
    """This machine: real cuda-python, no driver (error 35) or no cuda-python -> cpu, with the reason."""
    target, reason = detect_target(device_tree=tmp_path / "absent")
    if not reason.startswith("no usable CUDA GPU"):
        pytest.skip(f"a CUDA GPU is present here: {reason}")
    assert target.name == "cpu"
