"""Semantic segmentation, core part: ``image`` uint8 N x H x W x C in, ``labels`` uint8 N x H x W out.

C is the metadata's ``input.channels``: 3 (BGR) or 4 (BGR + 8-bit depth, RGB-D
models; see :mod:`edgeseg.metadata`). Optional outputs ``logits``/``scores``
(float N x classes x H x W) are checked against the class count when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from edgeseg.errors import EdgesegError

from .base import Dims, Task, TensorSpec

if TYPE_CHECKING:
    from edgeseg.metadata import ModelMetadata

CLASS_SCORE_OUTPUTS = ("logits", "scores")


class SemanticTask(Task):
    """Per-pixel class labels (every edgeseg checkpoint without another task)."""

    name = "semantic"
    input_name = "image"
    output_names = ("labels",)

    def input_spec(self, meta: ModelMetadata) -> TensorSpec:
        spec = meta.input
        return TensorSpec(self.input_name, "uint8", (spec.height, spec.width, spec.channels))

    def output_specs(self, meta: ModelMetadata) -> tuple[TensorSpec, ...]:
        # int32: TensorRT 8.x has no uint8 network output (edgeseg.engines.labels_int32)
        return (TensorSpec("labels", "uint8", (meta.input.height, meta.input.width), also=("int32",)),)

    def describe_input(self, meta: ModelMetadata) -> tuple[str, str]:
        what = "BGR" if meta.input.channels == 3 else "BGR + depth"
        return f"{what} images", "resize frames to the model input first"

    def check_io(self, source: str, meta: ModelMetadata, inputs: Mapping[str, tuple[str, Dims]],
                 outputs: Mapping[str, tuple[str, Dims]]) -> None:
        super().check_io(source, meta, inputs, outputs)
        for name in CLASS_SCORE_OUTPUTS:
            dims = outputs[name][1] if name in outputs else None
            if dims and len(dims) == 4 and isinstance(dims[1], int) and dims[1] != meta.num_classes:
                raise EdgesegError(f"{source}: output '{name}' has {dims[1]} classes but the metadata lists "
                                   f"{meta.num_classes}; re-export the model with its own metadata")
