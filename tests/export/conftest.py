"""Fixtures of the export tests: a tiny ENet exported at 32x48 and its variants (seconds on a CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import ROOT, SAMPLES

from edgeseg.cli import main

HEIGHT, WIDTH = 32, 48


@pytest.fixture(scope="session")
def calib_dir(tmp_path_factory) -> Path:
    """Six calibration images (CamVid train frames) and one non-image file."""
    folder = tmp_path_factory.mktemp("calib")
    for path in sorted((ROOT / "calib_data" / "camvid").glob("*.jpg"))[:6]:
        shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not an image\n")
    return folder


@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint exported at 32x48 with the extra ``logits`` output."""
    out = tmp_path_factory.mktemp("tiny_onnx") / "tiny.onnx"
    code = main(["export", str(tiny_checkpoint), "-o", str(out), "--height", str(HEIGHT), "--width", str(WIDTH),
                 "--logits", "--parity-images", str(SAMPLES / "val"), "--parity-count", "4"])
    assert code == 0 and out.is_file()
    return out


@pytest.fixture(scope="session")
def tiny_fp16(tiny_onnx) -> Path:
    out = tiny_onnx.with_name("tiny.fp16.onnx")
    assert main(["quantize", str(tiny_onnx), "--precision", "fp16", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_int8(tiny_onnx, calib_dir) -> Path:
    out = tiny_onnx.with_name("tiny.int8.onnx")
    assert main(["quantize", str(tiny_onnx), "--precision", "int8", "--calib", str(calib_dir),
                 "--method", "minmax", "-o", str(out)]) == 0
    return out


# -- foreign models imported with `edgeseg import` (tests/foreign_models.py) ---------------------------

from foreign_models import CAMVID_MEAN, CAMVID_STD, IMPORT_SIZE  # noqa: E402


def _foreign_cases():
    """name -> (writer(folder) -> model file, extra `edgeseg import` arguments)."""
    import foreign_models as fm

    h, w = IMPORT_SIZE
    imagenet = ["--mean", ",".join(map(str, fm.IMAGENET_MEAN)), "--std", ",".join(map(str, fm.IMAGENET_STD))]

    def segformer(folder):
        path = folder / "segformer.pt2"
        fm.save_exported_program(fm.TinySegFormer(), (1, 3, h, w), path)
        return path

    def rgb01(folder):
        path = folder / "rgb01.torchscript.pt"
        fm.save_torchscript(fm.FloatRgbEnet(), (1, 3, h, w), path)
        return path

    def nhwc(folder):
        path = folder / "nhwc_bgr.onnx"
        fm.save_onnx_dynamic(fm.NhwcBgrEnet(), (1, h, w, 3), path)
        return path

    def two_heads(folder):
        path = folder / "two_heads.pt2"
        fm.save_exported_program(fm.TwoHeadEnet(), (1, 3, h, w), path)
        return path

    return {
        "segformer": (segformer, [*imagenet, "--output", "logits"]),
        "rgb01": (rgb01, ["--input-size", f"{h}x{w}", "--scale", str(1 / 255)]),
        "nhwc": (nhwc, ["--input-size", f"{h}x{w}", "--mean", CAMVID_MEAN, "--std", CAMVID_STD,
                        "--channel-order", "bgr", "--layout", "nhwc"]),
        "two_heads": (two_heads, ["--mean", CAMVID_MEAN, "--std", CAMVID_STD, "--output", "output1"]),
    }


@pytest.fixture(scope="session")
def camvid_classes(tmp_path_factory) -> Path:
    from edgeseg.palettes import CAMVID_CLASSES, CAMVID_PALETTE

    path = tmp_path_factory.mktemp("classes") / "classes.txt"
    path.write_text("".join(f"{n} {r} {g} {b}\n" for n, (r, g, b) in zip(CAMVID_CLASSES, CAMVID_PALETTE)))
    return path


@pytest.fixture(scope="session")
def imported_models(tmp_path_factory, camvid_classes, calib_dir) -> dict:
    """name -> {"source", "fp32" (with logits), "fp16", "int8"}: each foreign model imported and quantized."""
    out = {}
    for name, (write, extra) in _foreign_cases().items():
        folder = tmp_path_factory.mktemp(f"import_{name}")
        source = write(folder)
        fp32 = folder / f"{name}.onnx"
        assert main(["import", str(source), "-o", str(fp32), "--classes", str(camvid_classes), "--logits",
                     "--parity-count", "4", *extra]) == 0
        fp16, int8 = folder / f"{name}.fp16.onnx", folder / f"{name}.int8.onnx"
        gate = ["--eval-data", str(SAMPLES.parent / "camvid"), "--eval-limit", "6"]
        assert main(["quantize", str(fp32), "--precision", "fp16", "-o", str(fp16), *gate]) == 0
        assert main(["quantize", str(fp32), "--precision", "int8", "--calib", str(calib_dir), "--method", "minmax",
                     "-o", str(int8), *gate]) == 0
        out[name] = {"source": source, "fp32": fp32, "fp16": fp16, "int8": int8}
    return out


@pytest.fixture(scope="session")
def imported_int8(imported_models) -> Path:
    """The trained ENet taking float RGB in [0, 1], saved as TorchScript, imported and quantized to INT8."""
    return imported_models["rgb01"]["int8"]
