"""Fixtures of the runtime tests: tiny real contract ONNX models and the bundled clip."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import ROOT, make_contract_onnx

SAMPLE_VIDEO = ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"
SAMPLE_VIDEO_FRAMES = 40
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def camvid_onnx(tmp_path_factory) -> tuple[Path, object, object]:
    """(path, weight, bias) of a 360x480, 11-class contract ONNX (the CamVid frame size and class count)."""
    return make_contract_onnx(tmp_path_factory.mktemp("onnx") / "camvid_contract.onnx", height=360, width=480, num_classes=11)


@pytest.fixture(scope="session")
def small_onnx(tmp_path_factory) -> tuple[Path, object, object]:
    """A 96x128, 11-class contract ONNX: frames of any size are resized to it."""
    return make_contract_onnx(tmp_path_factory.mktemp("onnx") / "small_contract.onnx", height=96, width=128, num_classes=11)


@pytest.fixture(scope="session")
def sample_video() -> Path:
    return SAMPLE_VIDEO


@pytest.fixture
def browser():
    """A real headless Chromium (Debian's, from 'make browser') driven by selenium."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Chromium is not installed: run 'make browser' (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="edgeseg-chromium-")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={profile}", "--window-size=900,700"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
