"""``edgeseg compare``: two artifacts on the same split (real backends)."""

from __future__ import annotations

import json

import pytest
from helpers import SAMPLES

from edgeseg.cli import main
from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.eval import evaluate


def test_compare_an_artifact_with_itself(tiny_int8, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["compare", str(tiny_int8), str(tiny_int8), "--data", str(SAMPLES), "--limit", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["agreement"] == 1.0 and report["miou_drop_points"] == 0.0 and report["images"] == 2
    assert "label agreement 100.000 %" in capsys.readouterr().out


def test_compare_pt_with_onnx_matches_eval(tiny_checkpoint, tiny_fp16, tmp_path):
    out = tmp_path / "c.json"
    assert main(["compare", str(tiny_checkpoint), str(tiny_fp16), "--data", str(SAMPLES), "--limit", "3",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    with open_backend(tiny_fp16) as backend:
        from edgeseg.metrics import scores_from_confusion

        expected = scores_from_confusion(evaluate(backend, SAMPLES, "val", limit=3).confusion).miou
    assert report["miou_b"] == pytest.approx(expected)
    assert report["miou_drop_points"] == pytest.approx(100 * (report["miou_a"] - report["miou_b"]))
    # PyTorch at 96x128 vs ONNX at 32x48: different input sizes, still mostly the same labels.
    assert 0.3 < report["agreement"] <= 1.0


def test_compare_refuses_missing_artifact(tiny_int8, tmp_path, capsys):
    assert main(["compare", str(tiny_int8), str(tmp_path / "nope.onnx"), "--data", str(SAMPLES)]) == 2
    assert "does not exist" in capsys.readouterr().err
