"""The :class:`Task` interface, core part (numpy only): what a deployed model takes and returns.

A task (semantic labels, object proposals, ...) is one plug-in split across
the layers, one module per layer, so that the core and the runtime never
import torch:

- here (``edgeseg.tasks``): the names, dtypes and shapes of the deployed
  model's input and outputs (from its metadata), the checks a backend runs on
  a loaded graph or engine, and the task's own metadata fields;
- ``edgeseg.runtime.tasks``: decoding the outputs of one frame, rendering;
- ``edgeseg.train.tasks``: data, loss, validation metrics, checkpoint metadata;
- ``edgeseg.export.tasks``: the export wrapper, parity frames and reference.

Stages ask the task; they never branch on its name. docs/architecture_tasks.md
says how to add one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple  # noqa: UP035 - Dims is evaluated at run time, on Python 3.8 too

import numpy as np

from edgeseg.errors import EdgesegError

if TYPE_CHECKING:
    from edgeseg.metadata import ModelMetadata

Dims = Tuple[Optional[int], ...]  # noqa: UP006, UP045 - see the import
"""A shape as a backend reports it: ints, None where the size is not fixed (a dynamic batch)."""


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of the deployed model's contract.

    Attributes:
        name: the graph's (or engine's) tensor name.
        dtype: the contract's numpy dtype name (``uint8``, ``float32``); what
            a backend hands to callers (:meth:`Task.output_dtypes`).
        shape: sizes after the batch axis; None where the metadata does not fix one.
        also: other dtypes a backend may find (``int32`` labels of TensorRT
            8.x exports, ``float16`` outputs of an FP16 variant), converted to
            ``dtype`` on the host.
    """

    name: str
    dtype: str
    shape: Dims
    also: tuple[str, ...] = ()

    @property
    def dtypes(self) -> tuple[str, ...]:
        return (self.dtype, *self.also)


class Task(ABC):
    """What one kind of deployed model computes (core part; see the module docstring).

    Subclasses set :attr:`name`, :attr:`input_name` and :attr:`output_names`
    and describe their tensors from the metadata.
    """

    name: str = ""
    input_name: str = ""
    output_names: tuple[str, ...] = ()

    def check_metadata(self, meta: ModelMetadata, fail: Callable[[str], None]) -> None:
        """Call ``fail(message)`` for a task-specific metadata field that is missing or wrong (default: none)."""

    @abstractmethod
    def input_spec(self, meta: ModelMetadata) -> TensorSpec:
        """The uint8 NHWC input (sizes after the batch axis)."""

    @abstractmethod
    def output_specs(self, meta: ModelMetadata) -> tuple[TensorSpec, ...]:
        """The outputs every model of this task has, in the order of :attr:`output_names`."""

    @abstractmethod
    def describe_input(self, meta: ModelMetadata) -> tuple[str, str]:
        """``(what, fix)`` for an input error: ``("BGR images", "resize frames to the model input first")``."""

    def frame_size(self, meta: ModelMetadata) -> tuple[int, int]:
        """(H, W) the runtime resizes frames to (the metadata's ``input`` size)."""
        return meta.input.height, meta.input.width

    def check_io(self, source: str, meta: ModelMetadata, inputs: Mapping[str, tuple[str, Dims]],
                 outputs: Mapping[str, tuple[str, Dims]]) -> None:
        """Raise naming what a loaded model's I/O lacks against this task's contract.

        ``inputs``/``outputs``: tensor name -> (numpy dtype name, dims with
        the batch first, None where not fixed), as the backend reads them.
        """
        spec = self.input_spec(meta)
        found = inputs.get(spec.name)
        if found is None:
            raise EdgesegError(self.missing_input_message(source, meta, inputs))
        dtype, dims = found
        if dtype != "uint8" or len(dims) != 1 + len(spec.shape) or dims[-1] != spec.shape[-1]:
            raise EdgesegError(f"{source}: input {spec.name!r} is {dtype} {list(dims)}, expected uint8 N x "
                               f"{' x '.join(map(str, spec.shape))} (the metadata's input)")
        if tuple(dims[1:-1]) != spec.shape[:-1]:
            raise EdgesegError(f"{source}: input is {'x'.join(map(str, dims[1:-1]))} but the metadata says "
                               f"{'x'.join(map(str, spec.shape[:-1]))}; the file was altered after export: re-export it")
        for out in self.output_specs(meta):
            if out.name not in outputs:
                raise EdgesegError(f"{source}: outputs {sorted(outputs)} lack {out.name!r}; not an edgeseg model: "
                                   "re-export it with 'edgeseg export'")
            dtype, dims = outputs[out.name]
            wrong_size = any(want is not None and got is not None and want != got
                             for want, got in zip(out.shape, dims[1:]))
            if dtype not in out.dtypes or len(dims) != 1 + len(out.shape) or wrong_size:
                shape = " x ".join(["N", *("M" if d is None else str(d) for d in out.shape)])
                raise EdgesegError(f"{source}: output {out.name!r} is {dtype} {list(dims)}, expected {out.dtype} "
                                   f"{shape}; the file was altered after export: re-export it")

    def missing_input_message(self, source: str, meta: ModelMetadata, inputs: Mapping[str, tuple[str, Dims]]) -> str:
        """The error for a model without this task's input (a task may word it for its own users)."""
        return f"{source}: no input named {self.input_name!r} (inputs: {list(inputs)}); not an edgeseg model"

    def output_dtypes(self, meta: ModelMetadata) -> dict[str, np.dtype]:
        """Each output's contract dtype by name: what callers get, whatever the file computes in."""
        return {spec.name: np.dtype(spec.dtype) for spec in self.output_specs(meta)}
