"""OpenVINO backend (CPU): an edgeseg ONNX, or the cpu target's compiled model (``.blob``).

Same contract as the onnxruntime backend: ``image`` uint8 N x H x W x 3 BGR
in, ``labels`` uint8 N x H x W out (semantic), or ``windows`` -> ``mask_logits``
and ``scores`` (proposals, through :meth:`~.base.Backend.infer_outputs`).

Two kinds of file:

- ``MODEL.onnx``: read by OpenVINO's ONNX frontend and compiled here. The
  inference precision is ``f32`` unless asked otherwise: OpenVINO's own
  default on a CPU with bf16 (AVX-512 BF16, AMX) is bf16, which changes the
  labels, and only ``edgeseg build --target cpu`` gates that on mIoU.
- ``MODEL.cpu.blob`` (+ ``.blob.json`` sidecar): a compiled model exported by
  ``edgeseg build --target cpu``; it loads only in the OpenVINO version and on
  the CPU (model, ISA) it was built for, with the precision hint and threads
  the build chose (``threads`` overrides the thread count).

Every property OpenVINO is given is in :func:`compile_config`, so the build
measures exactly what the runtime will run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, require
from edgeseg.metadata import ModelMetadata

from .base import Backend

PRECISION_HINTS = ("f32", "bf16", "f16")


def openvino_module():
    """``openvino``, or a clear error naming the extra that installs it."""
    return require("openvino", "openvino")


def openvino_version() -> str:
    """OpenVINO's full version, e.g. ``2026.4.1-22982-e213a147257-releases/2026/4``."""
    return str(openvino_module().get_version())


def compile_config(*, threads: int = 0, precision_hint: str | None = "f32") -> dict[str, Any]:
    """The OpenVINO CPU properties edgeseg compiles with.

    One stream and the LATENCY hint (one frame at a time: what a camera
    pipeline does); ``threads`` > 0 caps the inference threads; ``precision_hint``
    is ``f32``, ``bf16`` or ``f16`` (None: OpenVINO's default for this CPU).
    """
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    if threads > 0:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    if precision_hint is not None:
        if precision_hint not in PRECISION_HINTS:
            raise EdgesegError(f"unknown OpenVINO precision hint {precision_hint!r}; choose one of {', '.join(PRECISION_HINTS)}")
        config["INFERENCE_PRECISION_HINT"] = precision_hint
    return config


def _onnx_metadata(path: Path) -> ModelMetadata:
    from edgeseg.artifacts import read_artifact_metadata

    _, metadata, _ = read_artifact_metadata(path)
    return metadata


def _fail_loading(path: Path, exc: Exception, fix: str) -> EdgesegError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return EdgesegError(f"OpenVINO cannot load {path} ({first[:300]}); {fix}")


def check_blob(path: Path) -> dict[str, Any]:
    """The sidecar of a cpu-target ``.blob``, refused when built with another OpenVINO or on another CPU."""
    from edgeseg.cpu_facts import cpu_identity
    from edgeseg.sidecar import check_artifact, rebuild_command

    data = check_artifact(path, runtime="openvino", runtime_version=openvino_version(), gpu=None)
    built_cpu = data.get("cpu") or {}
    here = cpu_identity()
    if (built_cpu.get("model"), built_cpu.get("isa")) != (here["model"], here["isa"]):
        raise EdgesegError(
            f"{path} was compiled for CPU {built_cpu.get('model')} (ISA {', '.join(built_cpu.get('isa') or []) or '?'}) "
            f"but this machine has {here['model']} (ISA {', '.join(here['isa']) or '?'}); a compiled model runs only on "
            f"the CPU it was built for: rebuild it here with: {rebuild_command(data, path)}"
        )
    return data


class OpenVinoBackend(Backend):
    """Runs an edgeseg ONNX or a cpu-target compiled ``.blob`` with OpenVINO on the CPU."""

    name = "openvino"

    def __init__(self, path: str | os.PathLike, threads: int = 0, precision_hint: str | None = None):
        """``precision_hint`` (``.onnx`` only): None means ``f32``; a ``.blob`` uses its sidecar's."""
        ov = openvino_module()
        self.path = Path(path)
        if not self.path.is_file():
            raise EdgesegError(f"{self.path} does not exist; check the path, or build one: edgeseg build MODEL.onnx --target cpu")
        if self.path.stat().st_size == 0:
            raise EdgesegError(f"{self.path} is empty (0 bytes)")
        core = ov.Core()
        suffix = self.path.suffix.lower()
        if suffix == ".blob":
            sidecar = check_blob(self.path)
            self.metadata = ModelMetadata.from_dict(sidecar["metadata"], source=str(self.path) + ".json")
            options = sidecar["build_options"]
            self.precision_hint = options.get("inference_precision_hint")
            self.threads = threads or int(options.get("threads") or 0)
            self.config = compile_config(threads=self.threads, precision_hint=self.precision_hint)
            try:
                with open(self.path, "rb") as handle:
                    self.compiled = core.import_model(handle.read(), "CPU", self.config)
            except Exception as exc:  # OpenVINO raises RuntimeError with its own text
                raise _fail_loading(self.path, exc, "rebuild it with 'edgeseg build MODEL.onnx --target cpu'") from None
        elif suffix == ".onnx":
            self.metadata = _onnx_metadata(self.path)
            self.precision_hint = precision_hint or "f32"
            self.threads = threads
            self.config = compile_config(threads=threads, precision_hint=self.precision_hint)
            try:
                self.compiled = core.compile_model(core.read_model(str(self.path)), "CPU", self.config)
            except Exception as exc:
                raise _fail_loading(self.path, exc, "re-export it with 'edgeseg export'") from None
        else:
            raise EdgesegError(f"{self.path}: the openvino backend loads .onnx or a cpu-target .blob, not {suffix or 'a file without suffix'}")
        self._ready()

    @classmethod
    def from_compiled(cls, compiled, metadata: ModelMetadata, *, path: str | os.PathLike, precision_hint: str | None,
                      threads: int) -> OpenVinoBackend:
        """A backend around an already compiled (or imported) model: how the build times and gates its candidates."""
        self = cls.__new__(cls)
        self.path, self.metadata, self.compiled = Path(path), metadata, compiled
        self.precision_hint, self.threads = precision_hint, threads
        self.config = compile_config(threads=threads, precision_hint=precision_hint)
        self._ready()
        return self

    def _ready(self) -> None:
        self.input_name = "windows" if self.metadata.task == "proposals" else "image"
        self._check_io()
        self.request = self.compiled.create_infer_request()
        self.providers = [f"OpenVINO CPU ({self.precision_hint or 'default'} precision hint)"]

    def _check_io(self) -> None:
        inputs = {port.get_any_name(): port for port in self.compiled.inputs}
        outputs = {port.get_any_name() for port in self.compiled.outputs}
        if self.input_name not in inputs:
            raise EdgesegError(f"{self.path}: no input named {self.input_name!r} (inputs: {sorted(inputs)}); not an edgeseg model")
        shape = inputs[self.input_name].get_partial_shape()
        want = self.input_shape[1:]
        dims = [d.get_length() if d.is_static else None for d in shape]
        if len(dims) != 4 or tuple(dims[1:]) != want:
            raise EdgesegError(f"{self.path}: input {self.input_name!r} is {shape} but the metadata says N x "
                               f"{' x '.join(map(str, want))}; the file was altered after export: re-export it")
        self.dynamic_batch = dims[0] is None
        self.batch_size = dims[0] if dims[0] is not None else 1
        needed = {"mask_logits", "scores"} if self.metadata.task == "proposals" else {"labels"}
        if not needed <= outputs:
            raise EdgesegError(f"{self.path}: outputs {sorted(outputs)} lack {sorted(needed - outputs)}; not an edgeseg model")

    def _run(self, inputs: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        # share_inputs: OpenVINO reads the caller's array in place (no copy); outputs are copied out
        # because the request reuses its output buffers on the next call.
        self.request.infer({self.input_name: np.ascontiguousarray(inputs)}, share_inputs=True)
        return {name: self.request.get_tensor(name).data.copy() for name in names}

    def infer(self, images: np.ndarray) -> np.ndarray:
        if self.dynamic_batch:
            self.require_semantic("labels inference (infer)")
            self.check_input(images)
            return self._infer(images)
        return super().infer(images)

    def _infer(self, images: np.ndarray) -> np.ndarray:
        return self._run(images, ("labels",))["labels"]

    def infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        if self.dynamic_batch:
            self.check_input(inputs)
            return self._infer_outputs(inputs)
        return super().infer_outputs(inputs)

    def _infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        if self.metadata.task != "proposals":
            return {"labels": self._infer(inputs)}
        out = self._run(inputs, ("mask_logits", "scores"))
        return {name: value.astype(np.float32, copy=False) for name, value in out.items()}

    def close(self) -> None:
        self.request = None
        self.compiled = None

