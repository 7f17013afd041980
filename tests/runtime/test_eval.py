"""``edgeseg eval`` on the bundled samples: JSON keys, scores, errors."""

import json

import numpy as np
import pytest
from helpers import ROOT, SAMPLES

from edgeseg.cli import main
from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.eval import evaluate


def test_eval_cli_writes_json(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "scores.json"
    assert main(["eval", str(tiny_checkpoint), "--data", str(SAMPLES), "--split", "val", "--limit", "3",
                 "--json", str(out), "--overlay-dir", str(tmp_path / "ov")]) == 0
    scores = json.loads(out.read_text())
    assert {"miou", "pixel_accuracy", "per_class_iou", "images"} <= set(scores)
    assert scores["images"] == 3 and 0 <= scores["miou"] <= 1
    assert len(list((tmp_path / "ov").glob("*.png"))) == 3
    assert "mIoU" in capsys.readouterr().out


def test_eval_confusion_matches_direct_computation(tiny_checkpoint):
    """The eval loop's confusion matrix equals one computed by hand from the backend's labels."""
    import cv2

    from edgeseg.metrics import confusion_matrix

    with open_backend(tiny_checkpoint) as backend:
        result = evaluate(backend, SAMPLES, "val", limit=2, keep_predictions=True)
        image = cv2.imread(str(sorted((SAMPLES / "val").glob("*.jpg"))[0]))
        small = cv2.resize(image, (backend.input_shape[2], backend.input_shape[1]), interpolation=cv2.INTER_LINEAR)
        labels = cv2.resize(backend.infer(small[None])[0], (480, 360), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(result.predictions[0], labels)
    mask0 = cv2.imread(str(sorted((SAMPLES / "valannot").glob("*.png"))[0]), cv2.IMREAD_UNCHANGED)
    mask1 = cv2.imread(str(sorted((SAMPLES / "valannot").glob("*.png"))[1]), cv2.IMREAD_UNCHANGED)
    expected = confusion_matrix(mask0, result.predictions[0], 11, 11) + confusion_matrix(mask1, result.predictions[1], 11, 11)
    assert np.array_equal(result.confusion, expected)


def test_eval_class_count_mismatch(tmp_path, capsys):
    from helpers import make_contract_onnx

    path, _, _ = make_contract_onnx(tmp_path / "three.onnx", num_classes=3)
    assert main(["eval", str(path), "--data", str(SAMPLES)]) == 2
    assert "has 11 classes but the model has 3" in capsys.readouterr().err


COMMITTED = sorted((ROOT / "models").glob("camvid_*.pt"))


@pytest.mark.parametrize("checkpoint", COMMITTED, ids=[c.stem for c in COMMITTED])
def test_committed_models_match_their_records_and_segment_the_samples(checkpoint):
    """Each committed model's published val score is its checkpoint's, and it segments the bundled samples.

    The 20 samples are val frames, so each model scores close to its val mIoU
    (all four are between 57.9 % and 59.6 % there); the floor catches a broken
    checkpoint, architecture change or pipeline.
    """
    import json

    from edgeseg.train.checkpoint import load_checkpoint

    record = json.loads(checkpoint.with_suffix(".val.json").read_text(encoding="utf-8"))
    assert record["split"] == "val" and record["images"] == 101
    # The trainer's val score of these very weights (the last epoch's for a protocol run,
    # the best epoch's for the older best-val publishes).
    assert abs(record["miou"] - load_checkpoint(checkpoint)["metadata"]["training"]["val_miou"]) < 1e-4
    with open_backend(checkpoint) as backend:
        assert backend.metadata.num_classes == 11
        scores = evaluate(backend, SAMPLES, "val").to_dict(backend.metadata.classes)
    assert scores["images"] == 20 and scores["miou"] > 0.55 and scores["pixel_accuracy"] > 0.8, scores
