"""mIoU from hand-made confusion matrices."""

import math

import numpy as np
import pytest

from edgeseg.metrics import confusion_matrix, scores_from_confusion


def test_perfect_prediction():
    cm = np.diag([10, 20, 30])
    s = scores_from_confusion(cm)
    assert s.miou == 1.0 and s.pixel_accuracy == 1.0


def test_hand_computed_iou():
    # class 0: tp 3, fn 1, fp 2 -> 3/6; class 1: tp 4, fn 2, fp 1 -> 4/7
    cm = np.array([[3, 1], [2, 4]])
    s = scores_from_confusion(cm)
    assert s.per_class_iou == pytest.approx([3 / 6, 4 / 7])
    assert s.miou == pytest.approx((3 / 6 + 4 / 7) / 2)
    assert s.pixel_accuracy == pytest.approx(7 / 10)


def test_absent_class_is_excluded_from_mean():
    cm = np.array([[5, 0, 0], [0, 5, 0], [0, 0, 0]])  # class 2 in neither truth nor prediction
    s = scores_from_confusion(cm)
    assert math.isnan(s.per_class_iou[2])
    assert s.miou == 1.0


def test_class_predicted_but_absent_counts_as_zero():
    cm = np.array([[4, 1], [0, 0]])  # class 1 only predicted, never true
    s = scores_from_confusion(cm)
    assert s.per_class_iou == pytest.approx([4 / 5, 0.0])
    assert s.miou == pytest.approx(0.4)


def test_confusion_ignores_void():
    labels = np.array([[0, 1], [11, 2]])
    predicted = np.array([[0, 2], [1, 2]])
    cm = confusion_matrix(labels, predicted, 3, ignore_index=11)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
