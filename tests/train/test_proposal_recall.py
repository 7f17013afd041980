"""Average recall of proposals: the dense (whole-frame) scoring, COCOeval's AR, the connected-components baseline."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import COMMITTED_ENET, ROOT, SAMPLES

from edgeseg.preprocess import normalize_bgr
from edgeseg.train.config import DataConfig
from edgeseg.train.data.datasets import dataset_info, load_split
from edgeseg.train.data.instances import Instance, instances_from_semantic
from edgeseg.train.models import build_model
from edgeseg.train.tasks.proposal_recall import (
    Scored,
    average_recall,
    box_nms,
    component_proposals,
    dense_scores,
    model_proposals,
)

MEAN, STD = [105.0, 108.0, 110.0], [78.0, 79.0, 78.0]


@pytest.mark.parametrize("name", ["deepmask", "sharpmask"])
def test_dense_scoring_of_one_window_equals_the_model_on_it(name):
    torch.manual_seed(0)
    model = build_model(name, 1, window=64).eval()
    window = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        _, direct = model(torch.from_numpy(normalize_bgr(window[None], MEAN, STD)))
    dense = dense_scores(model, window, MEAN, STD)
    assert dense.shape == (1, 1)
    assert abs(float(dense[0, 0]) - float(direct[0])) < 1e-5


def test_dense_scoring_covers_every_window_of_the_stride_16_grid():
    model = build_model("deepmask", 1, window=64).eval()
    frame = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    assert dense_scores(model, frame, MEAN, STD).shape == ((96 - 64) // 16 + 1, (128 - 64) // 16 + 1)


def test_model_proposals_are_frame_masks_ranked_after_box_nms():
    torch.manual_seed(0)
    model = build_model("deepmask", 1, window=64).eval()
    frame = np.random.default_rng(2).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    found = model_proposals(model, frame, MEAN, STD, scales=(1.0, 2.0), top=7)
    assert len(found) == 7
    assert all(p.mask.shape == (96, 128) and p.mask.dtype == bool for p in found)


def test_box_nms_drops_overlaps_and_keeps_the_best_first():
    boxes = np.array([[0, 0, 10], [1, 0, 10], [50, 50, 10], [0, 0, 40]], np.float64)
    assert box_nms(boxes, np.array([0.9, 0.95, 0.1, 0.5]), 0.5, 10) == [1, 3, 2]
    assert box_nms(boxes, np.array([0.9, 0.95, 0.1, 0.5]), 0.5, 2) == [1, 3]


def _square(image_index, x, y, w, h):
    return Instance(image_index, (x, y, w, h), np.ones((h, w), bool), "Car")


def _mask(x, y, w, h, shape=(60, 80)):
    out = np.zeros(shape, bool)
    out[y:y + h, x:x + w] = True
    return out


def test_average_recall_counts_the_iou_thresholds_a_proposal_passes():
    truth = [[_square(0, 10, 10, 20, 25)]]
    assert average_recall(truth, [[Scored(_mask(10, 10, 20, 25), 0.9)]], (60, 80)) == {"AR@10": 1.0, "AR@100": 1.0}
    # IoU 420 / 500 = 0.84: matched at 0.50, 0.55, ..., 0.80, seven of the ten thresholds.
    partial = average_recall(truth, [[Scored(_mask(10, 10, 20, 21), 0.9)]], (60, 80))
    assert partial["AR@100"] == pytest.approx(0.7)
    assert average_recall(truth, [[]], (60, 80)) == {"AR@10": 0.0, "AR@100": 0.0}


def test_ar_at_10_counts_only_the_ten_best_scored_proposals():
    truth = [[_square(0, 6 * i, 6 * (i % 2), 5, 5) for i in range(12)]]
    found = [[Scored(_mask(6 * i, 6 * (i % 2), 5, 5), 1.0 - i / 100) for i in range(12)]]
    scores = average_recall(truth, found, (60, 80))
    assert scores["AR@100"] == pytest.approx(1.0)
    assert scores["AR@10"] == pytest.approx(10 / 12)


def test_a_perfect_semantic_prediction_recalls_every_instance():
    """The baseline's components are the ground truth's own definition of an instance."""
    data = DataConfig(kind="camvid", root=str(SAMPLES))
    info = dataset_info(data)
    split = load_split(data, "val", info, 4)
    truth = [instances_from_semantic(m, list(info.classes), image_index=i) for i, m in enumerate(split.masks)]
    assert sum(map(len, truth)) > 10
    found = []
    for mask in split.masks:
        one_hot = np.stack([(mask == c).astype(np.float32) for c in range(len(info.classes))])
        found.append(component_proposals(one_hot, list(info.classes)))
    counts = [len(t) for t in truth]
    # Every proposal scores 1.0, so AR@10 recalls the first ten of each frame: sum(min(10, n)) of sum(n).
    assert average_recall(truth, found, split.masks[0].shape) == {
        "AR@10": pytest.approx(sum(min(10, n) for n in counts) / sum(counts)), "AR@100": 1.0}
    assert all(p.score == 1.0 for frame in found for p in frame)


def test_the_script_scores_the_committed_enet_baseline(tmp_path):
    out = tmp_path / "ar.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "proposal_recall.py"), "--baseline", str(COMMITTED_ENET),
                    "--data", str(SAMPLES), "--split", "val", "--limit", "3", "--threads", "1", "--json", str(out)],
                   check=True, capture_output=True)
    report = json.loads(out.read_text())
    assert report["frames"] == 3 and report["instances"] > 0
    (result,) = report["results"].values()
    assert 0.0 < result["AR@10"] <= result["AR@100"] < 1.0


def test_the_script_refuses_a_semantic_model_as_a_proposals_model(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "proposal_recall.py"), str(COMMITTED_ENET),
                          "--data", str(SAMPLES), "--limit", "1"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "is a segmentation checkpoint (enet), not a proposals model; pass semantic models as --baseline" in run.stderr
