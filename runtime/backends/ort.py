"""onnxruntime backend for edgeseg ONNX files (CPU by default).

The ONNX takes ``image`` uint8 N x H x W x 3 BGR and returns ``labels`` uint8
N x H x W; the metadata is read from the model's custom metadata through
onnxruntime, so the ``onnx`` package is not needed at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError, require
from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata

from .base import Backend

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def open_session(path: str | os.PathLike, providers: list[str] | None = None, threads: int = 0):
    """An ``onnxruntime.InferenceSession`` with clear errors for bad files.

    Args:
        path: the ONNX file.
        providers: short names (cpu, cuda, tensorrt) or onnxruntime provider
            names, in order of preference; None means CPU.
        threads: intra-op threads, 0 for onnxruntime's default.
    """
    ort = require("onnxruntime", "runtime")
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"ONNX file {path} does not exist")
    if path.stat().st_size == 0:
        raise EdgesegError(f"ONNX file {path} is empty (0 bytes)")
    wanted = [PROVIDER_ALIASES.get(p, p) for p in (providers or ["cpu"])]
    available = ort.get_available_providers()
    missing = [p for p in wanted if p not in available]
    if missing:
        raise EdgesegError(
            f"onnxruntime here has no {', '.join(missing)} (available: {', '.join(available)}); "
            "install onnxruntime-gpu for CUDA/TensorRT providers, or use --providers cpu"
        )
    if "CPUExecutionProvider" not in wanted:
        wanted.append("CPUExecutionProvider")  # for the nodes a GPU provider does not take
    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgesegError(f"{path} is not a loadable ONNX model ({first[:300]}); re-export it with 'edgeseg export'") from None


def session_metadata(session, source: str) -> ModelMetadata:
    """The edgeseg metadata stored in an ONNX model's ``metadata_props``."""
    custom = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in custom:
        raise EdgesegError(
            f"{source} has no edgeseg metadata (metadata_props key '{ONNX_METADATA_KEY}'); "
            "export it with 'edgeseg export', or add the metadata with 'edgeseg export --attach'"
        )
    return ModelMetadata.from_json(custom[ONNX_METADATA_KEY], source=source)


class OrtBackend(Backend):
    """Runs an edgeseg ONNX with onnxruntime."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, threads: int = 0):
        self.path = Path(path)
        self.session = open_session(path, providers, threads)
        self.metadata = session_metadata(self.session, str(path))
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "image" not in inputs:
            raise EdgesegError(f"{path}: no input named 'image' (inputs: {list(inputs)}); not an edgeseg ONNX")
        shape = inputs["image"].shape
        spec = self.metadata.input
        if len(shape) != 4 or shape[3] != 3 or inputs["image"].type != "tensor(uint8)":
            raise EdgesegError(f"{path}: input 'image' is {inputs['image'].type} {shape}, expected uint8 N x H x W x 3")
        if shape[1:3] != [spec.height, spec.width]:
            raise EdgesegError(
                f"{path}: input is {shape[1]}x{shape[2]} but the metadata says {spec.height}x{spec.width}; "
                "the file was altered after export: re-export it"
            )
        self._check_outputs()
        self.batch_size = shape[0] if isinstance(shape[0], int) else 1
        self.dynamic_batch = not isinstance(shape[0], int)
        self.providers = self.session.get_providers()

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
            self.check_input(images)
            return self._infer(images)
        return super().infer(images)

    def _infer(self, images: np.ndarray) -> np.ndarray:
        (labels,) = self.session.run(["labels"], {"image": images})
        return labels

    def close(self) -> None:
        self.session = None
