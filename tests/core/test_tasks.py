"""Tasks as plug-ins: every layer lists the same tasks, and one backend contract serves them all."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata
from edgeseg.runtime.backends.base import Backend
from edgeseg.tasks import TASKS, get_task


def test_every_layer_lists_the_core_tasks():
    from edgeseg.export.tasks import EXPORT_TASKS
    from edgeseg.runtime.tasks import RUNTIME_TASKS
    from edgeseg.train.tasks import TRAIN_TASKS

    for parts in (RUNTIME_TASKS, TRAIN_TASKS, EXPORT_TASKS):
        assert list(parts) == list(TASKS)
        assert all(part.name == name for name, part in parts.items())
    with pytest.raises(EdgesegError, match="unknown task 'panoptic'; known tasks: semantic, proposals"):
        get_task("panoptic")


def test_every_registered_architecture_has_a_known_task():
    from edgeseg.train.models import get_entry, model_names

    assert {get_entry(name).task for name in model_names()} <= set(TASKS)


class ArrayBackend(Backend):
    """A numpy test double: outputs computed from the input, per the task's output names."""

    name = "array"

    def __init__(self, metadata: ModelMetadata, batch_size: int, dynamic: bool = False):
        self.metadata, self.batch_size, self.dynamic_batch = metadata, batch_size, dynamic
        self.calls: list[int] = []

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        x = feed[self.input_name]
        self.calls.append(len(x))
        if self.task == "semantic":
            return {"labels": x[..., 0].astype(np.int32)}  # int32, as a TensorRT 8.x engine gives them
        return {"mask_logits": x[:, :4, :4, 0].astype(np.float16), "scores": x.mean(axis=(1, 2, 3)) / 255}


SEMANTIC = ModelMetadata("x", ["a", "b"], [[0, 0, 0], [1, 1, 1]], InputSpec(height=8, width=12))
PROPOSALS = ModelMetadata("y", ["object"], [[255, 255, 0]], InputSpec(height=40, width=50), task="proposals",
                          arch_args={"window": 16, "stride": 8})


@pytest.mark.parametrize("dynamic", [False, True])
def test_one_run_contract_serves_both_tasks(dynamic):
    frames = np.random.default_rng(0).integers(0, 256, (5, 8, 12, 3), dtype=np.uint8)
    semantic = ArrayBackend(SEMANTIC, 2, dynamic)
    out = semantic.run({"image": frames})
    assert semantic.calls == ([5] if dynamic else [2, 2, 2])  # a fixed batch: the last chunk padded
    assert list(out) == ["labels"] and out["labels"].dtype == np.uint8  # the contract's dtype
    assert np.array_equal(out["labels"], frames[..., 0]) and np.array_equal(semantic.infer(frames), frames[..., 0])

    windows = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    proposals = ArrayBackend(PROPOSALS, 2, dynamic)
    out = proposals.run({"windows": windows})
    assert out["mask_logits"].dtype == np.float32 and out["mask_logits"].shape == (3, 4, 4)
    np.testing.assert_allclose(out["scores"], windows.mean(axis=(1, 2, 3)) / 255)
    assert proposals.input_shape == (2, 16, 16, 3) and proposals.frame_size == (40, 50)
    with pytest.raises(EdgesegError, match="needs a semantic model"):
        proposals.infer(np.zeros((1, 40, 50, 3), np.uint8))
    with pytest.raises(EdgesegError, match="expects uint8 N x 16 x 16 x 3 BGR windows"):
        proposals.run({"windows": frames})
    with pytest.raises(EdgesegError, match="the model takes one input, 'windows'"):
        proposals.run({"image": windows})


def test_core_task_checks_a_loaded_models_io():
    task = TASKS["semantic"]
    good_in = {"image": ("uint8", (1, 8, 12, 3))}
    task.check_io("m.onnx", SEMANTIC, good_in, {"labels": ("uint8", (1, 8, 12)), "logits": ("float32", (1, 2, 8, 12))})
    with pytest.raises(EdgesegError, match="input is 9x12 but the metadata says 8x12"):
        task.check_io("m.onnx", SEMANTIC, {"image": ("uint8", (1, 9, 12, 3))}, {"labels": ("uint8", (1, 9, 12))})
    with pytest.raises(EdgesegError, match="output 'logits' has 3 classes but the metadata lists 2"):
        task.check_io("m.onnx", SEMANTIC, good_in, {"labels": ("uint8", (1, 8, 12)), "logits": ("float32", (1, 3, 8, 12))})
    with pytest.raises(EdgesegError, match="lack 'labels'"):
        task.check_io("m.onnx", SEMANTIC, good_in, {"scores": ("float32", (1, 2, 8, 12))})
    with pytest.raises(EdgesegError, match="takes 'windows' uint8 K x 16 x 16 x 3"):
        TASKS["proposals"].check_io("p.onnx", PROPOSALS, good_in, {"labels": ("uint8", (1, 8, 12))})
