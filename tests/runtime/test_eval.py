"""``edgeseg eval`` on the bundled samples: JSON keys, scores, errors."""

import json

import numpy as np
import pytest
from helpers import COMMITTED_ENET, SAMPLES

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


@pytest.mark.skipif(not COMMITTED_ENET.exists(), reason="no committed model")
def test_committed_enet_on_samples():
    """The committed CamVid ENet segments the bundled val samples (a floor just under its score)."""
    with open_backend(COMMITTED_ENET) as backend:
        assert backend.metadata.architecture == "enet" and backend.metadata.num_classes == 11
        result = evaluate(backend, SAMPLES, "val")
    scores = result.to_dict(backend.metadata.classes)
    assert scores["images"] == 20
    # The committed model scores 57.9 % mIoU on these 20 frames; a floor catches a broken model or pipeline.
    assert scores["pixel_accuracy"] > 0.8 and scores["miou"] > 0.55, scores
