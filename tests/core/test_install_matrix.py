"""The install pins per platform (pyproject extras and markers), the docs' matrix and doctor's table agree,
and each picks a cuda-python whose major is the platform's CUDA major."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from edgeseg.engines.platforms import PLATFORMS, TRT_RELEASES, jetpack_platform

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# JetPack -> (its Python, a cuda-python release of its CUDA major that has wheels for it, one that must not install)
JETPACKS = {"5.1": ("3.8", "11.8.2", "12.0.0"), "6.0": ("3.10", "12.2.1", "13.0.0"),
            "6.1/6.2": ("3.10", "12.6.2", "13.0.0"), "7.0": ("3.12", "13.0.1", "12.9.4")}


def cuda_python_for(extra: str, python: str) -> list[SpecifierSet]:
    """The cuda-python specifiers the extra installs on an aarch64 Jetson with ``python``."""
    env = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0",
           "platform_machine": "aarch64", "sys_platform": "linux"}
    found = []
    for text in PROJECT["optional-dependencies"][extra]:
        req = Requirement(text)
        if req.name == "cuda-python" and (req.marker is None or req.marker.evaluate(env)):
            found.append(req.specifier)
    return found


@pytest.mark.parametrize("jetpack", list(JETPACKS))
def test_jetson_extra_installs_the_cuda_python_of_each_jetpacks_cuda(jetpack):
    python, good, bad = JETPACKS[jetpack]
    specs = cuda_python_for("jetson", python)
    assert len(specs) == 1, f"JetPack {jetpack} (Python {python}) gets {specs}"
    assert good in specs[0] and bad not in specs[0]
    assert str(specs[0]) == str(Requirement(jetpack_platform(jetpack).cuda_python).specifier)


def test_desktop_extras_bound_the_major():
    """`trt` no longer lets pip pick cuda-python 13 (a CUDA 13 driver) for CUDA 12 TensorRT; `trt-cu13` is 13 only."""
    (trt,) = cuda_python_for("trt", "3.11")
    (cu13,) = cuda_python_for("trt-cu13", "3.11")
    assert "12.9.4" in trt and "13.0.0" not in trt and "11.8.2" not in trt
    assert "13.0.1" in cu13 and "12.9.4" not in cu13


def test_runtime_installs_on_python38_and_opencv_is_an_extra():
    """JetPack 5's Python 3.8 is allowed; PyPI's OpenCV (no GStreamer) is not forced on a Jetson."""
    assert "3.8" in SpecifierSet(PROJECT["requires-python"])
    assert not any(Requirement(r).name.startswith("opencv") for r in PROJECT["dependencies"])
    assert [Requirement(r).name for r in PROJECT["optional-dependencies"]["opencv"]] == ["opencv-python-headless"]
    assert not any(Requirement(r).name.startswith("opencv") for r in PROJECT["optional-dependencies"]["jetson"])
    # the build backend itself must run on 3.8 (setuptools 75.3 is the last for Python 3.8)
    (setuptools,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert "75.3.0" in setuptools.specifier


def test_docs_matrix_lists_every_platform_row():
    docs = (ROOT / "docs/jetson.md").read_text()
    rows = [line for line in docs.splitlines() if line.startswith("| ") and "cuda-python" in line and "`" in line]
    assert len(rows) == len(PLATFORMS)
    for platform, row in zip(PLATFORMS, rows):
        assert platform.name in row and f"`{platform.cuda_python}`" in row and f"`{platform.extra}`" in row
        assert re.search(rf"\| {re.escape(platform.python)} \|", row) and f"| {platform.cuda} |" in row


def test_every_tensorrt_release_ships_on_platforms_of_the_matrix():
    """TRT_RELEASES (the op checks' releases) and PLATFORMS (doctor's rows) are one table of facts."""
    jetpacks = set()
    for major, minor, where in TRT_RELEASES:
        for place in (p.strip() for p in where.split(",")):
            if place.startswith("JetPack "):
                row = jetpack_platform(place.split()[1].split("/")[0].rstrip("+"))
                assert row is not None, f"TensorRT {major}.{minor}: {place} is no row of PLATFORMS"
                jetpacks.add(row.name)
            else:
                assert place == "desktop (PyPI)", place
                assert any(p.name.startswith("desktop") for p in PLATFORMS)
    assert jetpacks == {p.name for p in PLATFORMS if p.name.startswith("JetPack")}
