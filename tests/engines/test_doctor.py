"""``edgeseg doctor`` on this machine (real cv2, real cuda-python, no driver) and on described Jetsons."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from fakes.fake_cuda import FakeCudaRuntime

from edgeseg.cli import main
from edgeseg.cuda_rt import CudaRuntime
from edgeseg.engines.doctor import Probes, cv2_facts, make_report

JETPACK_62 = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 2025\n"
BUILD_INFO_JETPACK = """
General configuration for OpenCV 4.8.0 =====================================
  Video I/O:
    FFMPEG:                      YES
    GStreamer:                   YES (1.20.3)
    v4l/v4l2:                    YES (linux/videodev2.h)
  NVIDIA CUDA:                   YES (ver 12.6, CUFFT CUBLAS)
"""


def jetson_root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text(JETPACK_62)
    return tmp_path


def fake_cv2(info: str, path: str):
    return SimpleNamespace(__version__="4.8.0", __file__=path, getBuildInformation=lambda: info)


class FakeCudaPython(CudaRuntime):
    """The FAKE cuda runtime (tests/fakes/fake_cuda.py) as if cuda-python ``version`` were installed."""

    def __init__(self, version: str, **kwargs):
        super().__init__(FakeCudaRuntime(**kwargs))
        self._version = version

    def version_text(self) -> str:
        return self._version


def test_doctor_here_says_cv2_has_no_gstreamer_and_names_the_fix(capsys):
    """This machine's cv2 is PyPI's wheel, built without GStreamer."""
    import cv2

    if cv2_facts(cv2)["gstreamer"]:
        pytest.skip("this machine's OpenCV has GStreamer")
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"cv2 {cv2.__version__} (PyPI wheel: " in out
    assert "GStreamer: no (csi:// and GStreamer pipelines cannot open)" in out
    assert "use an OpenCV built with GStreamer: the system one (apt install python3-opencv" in out
    assert "pip uninstall opencv-python-headless" in out
    assert "not a Jetson" in out and "--target auto:\n  cpu: " in out


def test_doctor_json_here(capsys):
    assert main(["doctor", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["target"]["name"] == "cpu" and facts["jetson"]["jetpack"] is None
    assert facts["cv2"]["version"] and isinstance(facts["fixes"], list)
    assert facts["cuda_python"].split(".")[0] in ("11", "12", "13")


def test_doctor_on_a_jetpack6_container_with_pypi_cuda_python_13(tmp_path):
    """JetPack 6.2 (CUDA 12.6) with cuda-python 13 from a plain pip install: the mismatch and its fix."""
    probes = Probes(root=jetson_root(tmp_path),
                    import_cv2=lambda: fake_cv2(BUILD_INFO_JETPACK, "/usr/lib/python3/dist-packages/cv2/__init__.py"),
                    import_tensorrt=lambda: SimpleNamespace(__version__="10.3.0.30", Builder=object),
                    cuda_runtime=lambda: FakeCudaPython("13.0.1", api_major=12, multiprocessors=8, memory_mib=7620),
                    python_version=(3, 10))
    report = make_report(probes)
    text = report.text()
    assert "Jetson: model unknown, L4T R36.4.3, JetPack 6.1/6.2 (from /etc/nv_tegra_release)" in text
    assert "TensorRT:\n  10.3.0.30" in text
    assert "mismatch: JetPack 6.1/6.2 (CUDA 12.6) needs cuda-python>=12.2,<13, this is cuda-python 13.0.1" in text
    assert "pip install 'cuda-python>=12.2,<13' (or pip install 'edgeseg[jetson]')" in report.fixes
    assert "GStreamer: yes" in text and "CUDA: yes" in text and "system package" in text
    assert "--target auto:\n  jetson-orin-nano: integrated GPU Orin" in text


def test_doctor_on_a_jetson_without_cv2_points_at_jetpacks_opencv(tmp_path):
    def no_cv2():
        raise ImportError("No module named 'cv2'")

    probes = Probes(root=jetson_root(tmp_path), import_cv2=no_cv2, cuda_runtime=lambda: FakeCudaPython("12.6.2"),
                    python_version=(3, 10))
    report = make_report(probes)
    assert "cv2: not importable" in report.text()
    assert any("--system-site-packages" in fix and "JetPack's OpenCV" in fix for fix in report.fixes)


def test_doctor_on_jetpack5_python38(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref\n")
    probes = Probes(root=tmp_path, import_cv2=lambda: fake_cv2(BUILD_INFO_JETPACK, "/usr/lib/python3.8/dist-packages/cv2.so"),
                    cuda_runtime=lambda: FakeCudaPython("12.9.0", api_major=11, name="Xavier", major=7, minor=2,
                                                        multiprocessors=6, memory_mib=7600),
                    python_version=(3, 8))
    report = make_report(probes)
    text = report.text()
    assert "JetPack 5.1.2" in text and "train and export need Python 3.10+" in text
    assert "needs cuda-python>=11.7.1,<11.8.3, this is cuda-python 12.9.0" in text
    assert "--target auto:\n  jetson-xavier-nx" in text


def test_missing_cv2_is_one_clear_error(tmp_path):
    """No OpenCV (it is an extra now): 'edgeseg run' says what to install, no traceback."""
    code = ("import sys; sys.modules['cv2'] = None\n"
            "from edgeseg.cli import main\n"
            "sys.exit(main(['run', 'm.onnx', '--source', 'in.mp4', '--sink', 'out.mp4']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "OpenCV (cv2) is not installed: on a desktop, pip install 'edgeseg[opencv]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_training_on_python38_is_refused_clearly(monkeypatch, capsys):
    monkeypatch.setattr(sys, "version_info", (3, 8, 18, "final", 0))
    assert main(["train", "configs/none.toml", "--out", "runs/none"]) == 2
    assert "needs Python 3.10 or newer" in capsys.readouterr().err


def test_doctor_notes_a_tensorrt_the_jetpack_does_not_ship(tmp_path):
    probes = Probes(root=jetson_root(tmp_path), import_tensorrt=lambda: SimpleNamespace(__version__="8.6.2.3", Builder=object),
                    import_cv2=lambda: fake_cv2(BUILD_INFO_JETPACK, "/usr/lib/python3/dist-packages/cv2.so"),
                    cuda_runtime=lambda: FakeCudaPython("12.6.2"), python_version=(3, 10))
    assert "note: JetPack 6.1/6.2 ships TensorRT 10.3, not 8.6.2.3" in make_report(probes).text()
