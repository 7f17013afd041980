"""The artifact metadata schema shared by checkpoints, ONNX files and engine sidecars.

One JSON-compatible record describes what a model is and how to feed it, so
every stage can read an artifact without the config of an earlier stage:

- checkpoint ``.pt``: ``checkpoint["metadata"]`` (a plain dict);
- ONNX: ``metadata_props`` under the key :data:`ONNX_METADATA_KEY` (JSON text);
- engine: the ``metadata`` field of the ``.engine.json`` sidecar.

The model's float input is RGB, N x 3 x H x W, computed from 8-bit pixels as
``(pixel - mean) / std`` with ``mean`` and ``std`` in 0..255 units, RGB order.
Deployed artifacts (ONNX, engines) take uint8 NHWC BGR and do this in the graph.

RGB-D models (``input.channels == 4``, e.g. LSTM-CF) take one input, uint8
N x H x W x 4: B, G, R and depth in 8 bits, ``depth_u8 = clip(round(mm /
input.depth_scale), 0, 255)`` (0 = no reading; see
:func:`edgeseg.preprocess.depth_to_u8`). The float input is N x 4 x H x W
(R, G, B, D), normalised with 4-entry ``mean``/``std``. One 4-channel input
rather than a second ``depth`` input keeps the one-array backend contract.

``task`` says what the deployed model computes:

- ``semantic`` (the default, and what every artifact without the field is):
  ``image`` N x H x W x C in, ``labels`` uint8 N x H x W out;
- ``proposals`` (DeepMask, SharpMask): ``input.height``/``width`` is the
  *frame* size the runtime resizes frames to; ``arch_args["window"]`` (side S
  of the square windows) and ``arch_args["stride"]`` (grid step) say how the
  runtime cuts windows from that frame (:func:`edgeseg.runtime.proposals.window_boxes`).
  The ONNX takes ``windows`` uint8 K x S x S x 3 BGR and returns
  ``mask_logits`` float32 K x M x M and ``scores`` float32 K (probabilities).

``to_dict`` leaves ``task`` out for semantic models, so a semantic artifact
written by this version still loads in an edgeseg that predates the field (an
older edgeseg refuses a proposals artifact, naming the unknown key ``task``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import EdgesegError
from .schema import build, check_schema_version
from .tasks import TASKS

SCHEMA_VERSION = 1
ONNX_METADATA_KEY = "edgeseg"
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass
class InputSpec:
    """How to feed the model.

    Attributes:
        height, width: input size in pixels (fixed at export).
        mean, std: per-channel normalisation, RGB order, 0..255 units.
        multiple: H and W must be multiples of this for the architecture.
        channels: 3 (BGR) or 4 (BGR + 8-bit depth); ``mean``/``std`` have this many entries.
        depth_scale: millimetres per step of the 8-bit depth channel (4 channels only).
    """

    height: int
    width: int
    mean: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    std: list[float] = field(default_factory=lambda: [255.0, 255.0, 255.0])
    multiple: int = 1
    channels: int = 3
    depth_scale: float | None = None

    @property
    def rgbd_depth_scale(self) -> float:
        """``depth_scale`` of a 4-channel input (validation makes it a positive number there)."""
        if self.depth_scale is None:
            raise EdgesegError(f"input has {self.channels} channels and no depth_scale: not an RGB-D model")
        return float(self.depth_scale)


@dataclass
class ModelMetadata:
    """Everything needed to rebuild a model and interpret its output."""

    architecture: str
    classes: list[str]
    palette: list[list[int]]
    input: InputSpec
    arch_args: dict[str, Any] = field(default_factory=dict)
    ignore_index: int | None = None
    precision: str = "fp32"
    calibration: dict[str, Any] | None = None
    source_sha256: str | None = None
    opset: int | None = None
    tool_versions: dict[str, str] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    task: str = "semantic"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def window_geometry(self) -> tuple[int, int]:
        """``(window, stride)`` of a proposals model (from ``arch_args``; validated)."""
        return int(self.arch_args["window"]), int(self.arch_args["stride"])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (lists, dicts, str, numbers, None); ``task`` only when not semantic."""
        data = asdict(self)
        if data["task"] == "semantic":
            del data["task"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "metadata") -> ModelMetadata:
        """Validate and build from a dict; ``source`` names the artifact in errors.

        The keys and types are checked by :func:`edgeseg.schema.build` (the
        fields of this class and :class:`InputSpec` are the schema), then
        :meth:`validate` checks what relates fields to each other.
        """
        if not isinstance(data, dict):
            raise EdgesegError(f"{source}: metadata must be a JSON object, got {type(data).__name__}")
        check_schema_version(data, SCHEMA_VERSION, source=source, what="metadata")
        meta = build(cls, data, where="metadata", source=source)
        meta.validate(source)
        return meta

    @classmethod
    def from_json(cls, text: str, *, source: str = "metadata") -> ModelMetadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EdgesegError(f"{source}: metadata is not valid JSON ({exc})") from None
        return cls.from_dict(data, source=source)

    def validate(self, source: str = "metadata") -> None:
        """Raise :class:`EdgesegError` naming the first inconsistent field."""
        def fail(what: str) -> None:
            raise EdgesegError(f"{source}: {what}")

        if not isinstance(self.architecture, str) or not self.architecture:
            fail("architecture must be a non-empty string")
        if not isinstance(self.classes, list) or not self.classes or not all(isinstance(c, str) for c in self.classes):
            fail("classes must be a non-empty list of names")
        if not isinstance(self.palette, list) or len(self.palette) != len(self.classes):
            fail(f"palette must have one colour per class ({len(self.classes)})")
        for colour in self.palette:
            if not (isinstance(colour, (list, tuple)) and len(colour) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in colour)):
                fail(f"palette entry {colour!r} is not three integers in 0..255")
        spec = self.input
        for name in ("height", "width", "multiple"):
            value = getattr(spec, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                fail(f"input.{name} must be a positive integer, got {value!r}")
        if spec.channels not in (3, 4):
            fail(f"input.channels must be 3 (BGR) or 4 (BGR + depth), got {spec.channels!r}")
        if spec.channels == 4 and not (isinstance(spec.depth_scale, (int, float)) and spec.depth_scale > 0):
            fail("input.depth_scale (millimetres per depth step) must be a positive number for 4-channel input")
        for name in ("mean", "std"):
            value = getattr(spec, name)
            if not (isinstance(value, list) and len(value) == spec.channels
                    and all(isinstance(v, (int, float)) for v in value)):
                fail(f"input.{name} must be {spec.channels} numbers")
        if any(v <= 0 for v in spec.std):
            fail("input.std must be positive")
        if self.precision not in PRECISIONS:
            fail(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if not isinstance(self.arch_args, dict):
            fail("arch_args must be an object")
        if self.task not in TASKS:
            fail(f"task {self.task!r} is not one of {tuple(TASKS)}")
        TASKS[self.task].check_metadata(self, fail)  # the task's own fields (a proposals model's window)
