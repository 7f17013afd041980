"""OpenVINO backend (CPU): an edgeseg ONNX, or the cpu target's compiled model (``.blob``).

Same contract as the onnxruntime backend: named tensors in and out, the
metadata's task's (:mod:`edgeseg.tasks`), checked against the model when loading.

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
from edgeseg.tasks import Dims, task_of

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


def compiled_io(compiled: Any) -> tuple[dict[str, tuple[str, Dims]], dict[str, tuple[str, Dims]]]:
    """(inputs, outputs) of a compiled model: name -> (numpy dtype name, dims with None where dynamic)."""
    def describe(ports: Any) -> dict[str, tuple[str, Dims]]:
        return {port.get_any_name(): (np.dtype(port.get_element_type().to_dtype()).name,
                                      tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape()))
                for port in ports}

    return describe(compiled.inputs), describe(compiled.outputs)


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
        inputs, outputs = compiled_io(self.compiled)
        task_of(self.metadata).check_io(str(self.path), self.metadata, inputs, outputs)
        batch = inputs[self.input_name][1][0]
        self.dynamic_batch = batch is None
        self.batch_size = batch if batch is not None else 1
        self.request = self.compiled.create_infer_request()
        self.providers = [f"OpenVINO CPU ({self.precision_hint or 'default'} precision hint)"]

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        # share_inputs: OpenVINO reads the caller's array in place (no copy); outputs are copied out
        # because the request reuses its output buffers on the next call.
        self.request.infer({name: np.ascontiguousarray(value) for name, value in feed.items()}, share_inputs=True)
        return {name: self.request.get_tensor(name).data.copy() for name in names}

    def close(self) -> None:
        self.request = None
        self.compiled = None

