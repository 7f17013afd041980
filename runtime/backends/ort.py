"""onnxruntime backend for edgeseg ONNX files (CPU by default).

Named tensors in and out (:class:`~.base.Backend`); the I/O is the metadata's
task's (:mod:`edgeseg.tasks`), checked against the graph when loading. The
metadata is read from the model's custom metadata through onnxruntime, so the
``onnx`` package is not needed at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata
from edgeseg.ort_session import open_session
from edgeseg.tasks import Dims, task_of

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
    assert image is not None  # a missing 'image' is one of the problems raised above
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


def _ort_dtype(type_name: str) -> str:
    """``tensor(float)`` -> ``float32``: onnxruntime's type names as numpy's."""
    inner = type_name[len("tensor("):-1] if type_name.startswith("tensor(") else type_name
    return {"float": "float32", "double": "float64"}.get(inner, inner)


def session_io(session) -> tuple[dict[str, tuple[str, Dims]], dict[str, tuple[str, Dims]]]:
    """(inputs, outputs) of a session: name -> (numpy dtype name, dims with None where not fixed)."""
    def describe(values) -> dict[str, tuple[str, Dims]]:
        return {v.name: (_ort_dtype(v.type), tuple(d if isinstance(d, int) else None for d in v.shape)) for v in values}

    return describe(session.get_inputs()), describe(session.get_outputs())


class OrtBackend(Backend):
    """Runs an edgeseg ONNX of any task with onnxruntime."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, threads: int = 0):
        self.path = Path(path)
        self.session = open_session(path, providers, threads)
        self.metadata = session_metadata(self.session, str(path))
        self.providers = self.session.get_providers()
        inputs, outputs = session_io(self.session)
        task_of(self.metadata).check_io(str(path), self.metadata, inputs, outputs)
        batch = inputs[self.input_name][1][0]
        self.batch_size = batch if batch is not None else 1
        self.dynamic_batch = batch is None

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return dict(zip(names, self.session.run(list(names), feed)))

    def close(self) -> None:
        self.session = None
