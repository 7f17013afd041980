"""Fixtures for the engines tests: tiny contract ONNX files and a fake TensorRT installed as ``tensorrt``."""

from __future__ import annotations

import sys

import pytest
from fakes.fake_tensorrt import make_fake_tensorrt
from helpers import make_contract_onnx


@pytest.fixture
def contract_onnx(tmp_path):
    """A 1 x 32 x 48 x 3 uint8 -> 1 x 32 x 48 uint8 contract ONNX (3 classes)."""
    path, _, _ = make_contract_onnx(tmp_path / "tiny.onnx")
    return path


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("EDGESEG_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def install_fake_trt(monkeypatch):
    """Install a FAKE tensorrt of the given version as ``tensorrt``; returns the fake module."""

    def install(version: str, **kwargs):
        fake = make_fake_tensorrt(version, **kwargs)
        monkeypatch.setitem(sys.modules, "tensorrt", fake)
        return fake

    return install
