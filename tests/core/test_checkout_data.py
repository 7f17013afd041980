"""Defaults that live in the source checkout are found there, and an installed wheel says what to pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeseg.checkout import checkout_data, source_root
from edgeseg.errors import EdgesegError

ROOT = Path(__file__).resolve().parents[2]


def test_the_checkout_is_found_with_its_data():
    assert source_root() == ROOT
    assert checkout_data("calib_data/camvid", "the QAT calibration images", "--qat-calib DIR").is_dir()
    assert checkout_data("samples/video/camvid_0016E5_40f.mp4", "the sample clip", "--source VIDEO").is_file()


def test_a_missing_file_names_the_option():
    with pytest.raises(EdgesegError, match=r"samples/none\.mp4 \(the clip\) is part of .*missing: pass --source VIDEO"):
        checkout_data("samples/none.mp4", "the clip", "--source VIDEO")


def test_installed_without_the_checkout(tmp_path):
    # The core package copied alone, as a wheel lays it out under site-packages.
    shutil.copytree(ROOT / "edgeseg", tmp_path / "edgeseg", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("from edgeseg.checkout import checkout_data, source_root\n"
            "assert source_root() is None\n"
            "try:\n    checkout_data('calib_data/camvid', 'the QAT calibration images', '--qat-calib DIR')\n"
            "except Exception as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "installed without its source checkout: pass --qat-calib DIR" in result.stdout
