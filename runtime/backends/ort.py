"""onnxruntime backend for edgeseg ONNX files (CPU by default).

The ONNX takes ``image`` uint8 N x H x W x 3 BGR and returns ``labels`` uint8
N x H x W (semantic), or takes ``windows`` uint8 K x S x S x 3 BGR and returns
``mask_logits`` float32 K x M x M and ``scores`` float32 K (proposals, through
:meth:`~.base.Backend.infer_outputs`); the metadata is read from the model's custom metadata through
onnxruntime, so the ``onnx`` package is not needed at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata
from edgeseg.ort_session import open_session

from .base import Backend


def session_metadata(session, source: str) -> ModelMetadata:
    """The edgeseg metadata stored in an ONNX model's ``metadata_props``.

    Without it, a minimal metadata is inferred when the graph itself honours
    the contract (see :func:`infer_metadata`); otherwise the error names what
    is missing.
    """
    custom = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in custom:
        return infer_metadata(session, source)
    return ModelMetadata.from_json(custom[ONNX_METADATA_KEY], source=source)


def infer_metadata(session, source: str) -> ModelMetadata:
    """A minimal metadata for an ONNX without edgeseg metadata, if its I/O is the contract.

    The contract can be inferred when the model takes ``image`` uint8
    N x H x W x 3 (H, W fixed) and returns ``labels`` uint8 N x H x W: the
    preprocessing is then in the graph, so the normalisation does not matter.
    The class count comes from a ``logits``/``scores`` output N x C x H x W if
    there is one, else it is 256 (every uint8 label); classes are named
    ``class0``... and coloured with the default palette. Anything else is
    refused with the list of what does not match.
    """
    import logging

    from edgeseg.metadata import InputSpec
    from edgeseg.palettes import default_palette

    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    problems = []
    image = inputs.get("image")
    if image is None:
        problems.append(f"an input named 'image' (inputs: {list(inputs)})")
    elif (image.type != "tensor(uint8)" or len(image.shape) != 4 or image.shape[3] != 3
          or not all(isinstance(d, int) and d > 0 for d in image.shape[1:3])):
        problems.append(f"input 'image' as uint8 N x H x W x 3 with fixed H, W (it is {image.type} {image.shape})")
    labels = outputs.get("labels")
    if labels is None:
        problems.append(f"an output named 'labels' (outputs: {list(outputs)})")
    elif labels.type != "tensor(uint8)" or len(labels.shape) != 3:
        problems.append(f"output 'labels' as uint8 N x H x W (it is {labels.type} {labels.shape})")
    if problems:
        raise EdgesegError(
            f"{source} has no edgeseg metadata (metadata_props key '{ONNX_METADATA_KEY}') and its contract cannot be "
            f"inferred: missing {'; '.join(problems)}. Export it with 'edgeseg export', or wrap a model of your own with "
            f"'edgeseg import {source} -o model.onnx --classes classes.txt' (docs/own_model.md), which writes both"
        )
    num_classes = 256
    for name in ("logits", "scores"):
        shape = outputs[name].shape if name in outputs else None
        if shape and len(shape) == 4 and isinstance(shape[1], int) and shape[1] > 0:
            num_classes = shape[1]
            break
    logging.getLogger(__name__).warning(
        "%s has no edgeseg metadata: inferred the contract from its inputs/outputs (%dx%d, %d classes named "
        "class0..., default palette); add real class names and colours with: edgeseg import %s -o OUT.onnx "
        "--classes classes.txt",
        source, image.shape[1], image.shape[2], num_classes, source,
    )
    return ModelMetadata(
        architecture="unknown (inferred from the ONNX graph)",
        classes=[f"class{i}" for i in range(num_classes)],
        palette=[list(c) for c in default_palette(num_classes)],
        input=InputSpec(height=image.shape[1], width=image.shape[2], mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0]),
    )


class OrtBackend(Backend):
    """Runs an edgeseg ONNX with onnxruntime."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, threads: int = 0):
        self.path = Path(path)
        self.session = open_session(path, providers, threads)
        self.metadata = session_metadata(self.session, str(path))
        self.providers = self.session.get_providers()
        if self.metadata.task == "proposals":
            self._check_proposals_io()
            return
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "image" not in inputs:
            raise EdgesegError(f"{path}: no input named 'image' (inputs: {list(inputs)}); not an edgeseg ONNX")
        shape = inputs["image"].shape
        spec = self.metadata.input
        if len(shape) != 4 or shape[3] != spec.channels or inputs["image"].type != "tensor(uint8)":
            raise EdgesegError(f"{path}: input 'image' is {inputs['image'].type} {shape}, expected uint8 N x H x W x "
                               f"{spec.channels} (the metadata's input.channels)")
        if shape[1:3] != [spec.height, spec.width]:
            raise EdgesegError(
                f"{path}: input is {shape[1]}x{shape[2]} but the metadata says {spec.height}x{spec.width}; "
                "the file was altered after export: re-export it"
            )
        self._check_outputs()
        self.batch_size = shape[0] if isinstance(shape[0], int) else 1
        self.dynamic_batch = not isinstance(shape[0], int)

    def _check_proposals_io(self) -> None:
        """``windows`` uint8 K x S x S x 3 in; ``mask_logits`` float K x M x M and ``scores`` float K out."""
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        window, _ = self.metadata.window_geometry
        windows = inputs.get("windows")
        if windows is None or windows.type != "tensor(uint8)" or len(windows.shape) != 4 \
                or list(windows.shape[1:]) != [window, window, 3]:
            found = f"{windows.type} {windows.shape}" if windows is not None else f"inputs {list(inputs)}"
            raise EdgesegError(f"{self.path}: a proposals model takes 'windows' uint8 K x {window} x {window} x 3 "
                               f"(the metadata's window), found {found}; re-export it with 'edgeseg export'")
        masks, scores = outputs.get("mask_logits"), outputs.get("scores")
        if masks is None or scores is None or len(masks.shape) != 3 or len(scores.shape) != 1 \
                or "float" not in masks.type or "float" not in scores.type:
            raise EdgesegError(f"{self.path}: a proposals model returns 'mask_logits' float K x M x M and 'scores' "
                               f"float K; it has {[(o.name, o.type, o.shape) for o in outputs.values()]}; "
                               "re-export it with 'edgeseg export'")
        self.batch_size = windows.shape[0] if isinstance(windows.shape[0], int) else 1
        self.dynamic_batch = not isinstance(windows.shape[0], int)

    def _check_outputs(self) -> None:
        """``labels`` must be uint8 N x H x W at the metadata's size; class-score outputs must have one channel per class."""
        outputs = {o.name: o for o in self.session.get_outputs()}
        spec = self.metadata.input
        if "labels" not in outputs:
            raise EdgesegError(f"{self.path}: no output named 'labels' (outputs: {list(outputs)}); not an edgeseg ONNX")
        labels = outputs["labels"]
        fixed = [d for d in labels.shape[1:] if isinstance(d, int)]
        if len(labels.shape) != 3 or (len(fixed) == 2 and fixed != [spec.height, spec.width]):
            raise EdgesegError(
                f"{self.path}: output 'labels' is {labels.shape} but the metadata says N x {spec.height} x {spec.width}; "
                "the file was altered after export: re-export it"
            )
        for name in ("logits", "scores"):
            shape = outputs[name].shape if name in outputs else None
            if shape and len(shape) == 4 and isinstance(shape[1], int) and shape[1] != self.metadata.num_classes:
                raise EdgesegError(
                    f"{self.path}: output '{name}' has {shape[1]} classes but the metadata lists "
                    f"{self.metadata.num_classes}; re-export the model with its own metadata"
                )

    def infer(self, images: np.ndarray) -> np.ndarray:
        if self.dynamic_batch:
            self.require_semantic("labels inference (infer)")
            self.check_input(images)
            return self._infer(images)
        return super().infer(images)

    def _infer(self, images: np.ndarray) -> np.ndarray:
        (labels,) = self.session.run(["labels"], {"image": images})
        return labels

    def infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        if self.dynamic_batch:
            self.check_input(inputs)
            return self._infer_outputs(inputs)
        return super().infer_outputs(inputs)

    def _infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        if self.metadata.task != "proposals":
            return {"labels": self._infer(inputs)}
        masks, scores = self.session.run(["mask_logits", "scores"], {"windows": inputs})
        # float32 in an FP32 export; a float16 variant's outputs are widened so the contract holds.
        return {"mask_logits": masks.astype(np.float32, copy=False), "scores": scores.astype(np.float32, copy=False)}

    def close(self) -> None:
        self.session = None
