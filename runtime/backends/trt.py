"""TensorRT backend: an ``edgeseg build`` engine run with cuda-python buffers on one stream.

Loading checks the engine's sidecar first (TensorRT version, GPU, file hash;
see :func:`edgeseg.sidecar.check_artifact`). The I/O is the metadata's
task's (:mod:`edgeseg.tasks`), checked against the engine's tensors: e.g.
``image`` -> ``labels`` (uint8, or int32 for TensorRT 8.x exports, converted on
the host), ``windows`` -> ``mask_logits`` and ``scores`` (float32, or float16).

Buffers are allocated once: device memory for the input and each output,
and pinned host memory of the same sizes so the copies are truly asynchronous. One CUDA stream
carries copy-in, ``execute_async_v3`` and copy-out; where the target asks
for it (``cuda_graphs`` in the sidecar), that sequence is captured once in a
CUDA graph and replayed per batch, which saves the per-kernel launch cost on
Jetson CPUs. Every CUDA return code is checked (:mod:`edgeseg.cuda_rt`).

Output ownership: ``run`` returns new arrays; the pinned buffers stay the
backend's and are freed by ``close()``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeseg.cuda_rt import CudaError, CudaRuntime
from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.metadata import ModelMetadata
from edgeseg.sidecar import check_artifact
from edgeseg.tasks import task_of
from edgeseg.trt_version import trt_version

from .base import Backend

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger("edgeseg.runtime")


def import_tensorrt_runtime() -> Any:
    """``tensorrt`` for running engines, or an error saying where it comes from."""
    try:
        import tensorrt
    except ImportError:
        found = False
    else:
        found = hasattr(tensorrt, "Runtime")  # tensorrt-stubs alone import as an empty namespace package
    if not found:
        raise MissingDependencyError(
            "the TensorRT backend needs TensorRT's Python bindings, which are not installed here: on a Jetson "
            "they come with JetPack (apt install python3-libnvinfer), on a desktop: pip install tensorrt; "
            "or run the ONNX with --backend onnxruntime"
        )
    import tensorrt

    return tensorrt


def dims_tuple(dims: trt.Dims) -> tuple[int, ...]:
    """A ``tensorrt.Dims`` as a tuple of ints (-1 for a dynamic dimension)."""
    return tuple(int(d) for d in dims[:])


class TrtBackend(Backend):
    """Runs a TensorRT engine built by ``edgeseg build``.

    Args:
        path: the ``.engine`` (its ``.engine.json`` sidecar beside it).
        device: CUDA device index.
        cuda: a :class:`CudaRuntime` (None: the real cuda-python one; tests pass a fake).
        cuda_graphs: capture a CUDA graph; None: as the target's sidecar says.
    """

    name = "tensorrt"

    def __init__(self, path: str | os.PathLike, *, device: int = 0, cuda: CudaRuntime | None = None,
                 cuda_graphs: bool | None = None):
        self.path = Path(path)
        self._device_ptrs: list[int] = []
        self._host_ptrs: list[int] = []
        self._stream: Any = None
        self._graph: Any = None
        self._graph_exec: Any = None
        self.outputs: list[tuple[str, tuple[int, ...], np.dtype]] = []  # (name, shape, host dtype), in copy order
        self.d_outs: list[int] = []
        self.h_outs: list[np.ndarray] = []
        self.engine: trt.ICudaEngine | None = None
        self.context: trt.IExecutionContext | None = None
        if not self.path.is_file():
            raise EdgesegError(f"engine {self.path} does not exist")
        import_tensorrt_runtime()
        version = trt_version()
        self.cuda = cuda if cuda is not None else CudaRuntime()
        gpu = self.cuda.device_info(device)
        self.cuda.set_device(device)
        sidecar = check_artifact(self.path, runtime="tensorrt", runtime_version=version.text, gpu=gpu)
        self.metadata = ModelMetadata.from_dict(sidecar["metadata"], source=str(self.path))
        self._load(sidecar)
        try:
            self._allocate()
            use_graphs = bool(sidecar.get("cuda_graphs", False)) if cuda_graphs is None else cuda_graphs
            if use_graphs:
                self._capture_graph()
        except BaseException:
            self.close()
            raise

    def _load(self, sidecar: dict[str, Any]) -> None:
        import tensorrt as trt

        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
        if engine is None:
            raise EdgesegError(f"TensorRT could not deserialize {self.path}; rebuild it with: "
                               f"edgeseg build {sidecar['source_onnx']['path']} --target {sidecar['target']}")
        self.engine = engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        input_names = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        output_names = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        task = task_of(self.metadata)
        dtypes = {trt.DataType.UINT8: "uint8", trt.DataType.INT32: "int32", trt.DataType.FLOAT: "float32",
                  trt.DataType.HALF: "float16"}

        def dtype_of(name: str) -> str:
            dtype = engine.get_tensor_dtype(name)
            return dtypes.get(dtype, str(dtype))

        def io(names: list[str], shape_of: Any) -> dict[str, tuple[str, tuple[int | None, ...]]]:
            return {n: (dtype_of(n), tuple(None if d == -1 else d for d in dims_tuple(shape_of(n)))) for n in names}

        inputs = io(input_names, engine.get_tensor_shape)
        task.check_io(str(self.path), self.metadata, inputs, io(output_names, engine.get_tensor_shape))
        shape = dims_tuple(engine.get_tensor_shape(self.input_name))
        if shape[0] == -1:  # dynamic batch: run at the profile's opt batch
            self.batch_size = int(engine.get_tensor_profile_shape(self.input_name, 0)[1][0])
        else:
            self.batch_size = int(shape[0])
        context = engine.create_execution_context()
        self.context = context
        full = self.input_shape
        if shape[0] == -1 and not context.set_input_shape(self.input_name, full):
            raise EdgesegError(f"{self.path}: TensorRT refused input shape {full}")
        # The outputs at this batch, every size now fixed; host buffers in the engine's dtypes.
        outputs = io(output_names, context.get_tensor_shape)
        task.check_io(str(self.path), self.metadata, inputs, outputs)
        wrong = {n: outputs[n][1] for n in self.output_names if outputs[n][1][:1] != (self.batch_size,)}
        if wrong:
            raise EdgesegError(f"{self.path}: outputs {wrong} do not have the input's batch {self.batch_size}; "
                               "rebuild the engine from an ONNX made by 'edgeseg export'")
        self.outputs = [(n, tuple(int(d) for d in outputs[n][1] if d is not None), np.dtype(outputs[n][0]))
                        for n in self.output_names]

    def _allocate(self) -> None:
        """Device and pinned host buffers, one stream, tensor addresses: all once (input first, then outputs)."""
        n, h, w, c = self.input_shape
        self.in_nbytes = n * h * w * c
        self.out_nbytes_each = [int(np.prod(shape)) * dtype.itemsize for _, shape, dtype in self.outputs]
        self.d_in = self.cuda.malloc(self.in_nbytes, f"'{self.input_name}'")
        self._device_ptrs.append(self.d_in)
        for (name, _, _), nbytes in zip(self.outputs, self.out_nbytes_each):
            self.d_outs.append(self.cuda.malloc(nbytes, f"'{name}'"))
            self._device_ptrs.append(self.d_outs[-1])
        self.h_in_ptr = self.cuda.malloc_host(self.in_nbytes, f"'{self.input_name}'")
        self._host_ptrs.append(self.h_in_ptr)
        h_out_ptrs = []
        for (name, _, _), nbytes in zip(self.outputs, self.out_nbytes_each):
            h_out_ptrs.append(self.cuda.malloc_host(nbytes, f"'{name}'"))
            self._host_ptrs.append(h_out_ptrs[-1])
        self.h_out_ptrs = h_out_ptrs
        self.h_in = self.cuda.host_array(self.h_in_ptr, (n, h, w, c), np.uint8)
        self.h_outs = [self.cuda.host_array(ptr, shape, dtype) for ptr, (_, shape, dtype) in zip(h_out_ptrs, self.outputs)]
        self._stream = self.cuda.stream_create()
        assert self.context is not None
        bindings = [(self.input_name, self.d_in), *((name, ptr) for (name, _, _), ptr in zip(self.outputs, self.d_outs))]
        for name, ptr in bindings:
            if not self.context.set_tensor_address(name, ptr):
                raise EdgesegError(f"{self.path}: TensorRT refused the buffer address for '{name}'")

    def _enqueue(self) -> None:
        """Copy in, run, copy out: all queued on the one stream."""
        self.cuda.copy_to_device_async(self.d_in, self.h_in_ptr, self.in_nbytes, self._stream)
        if self.context is None:
            raise EdgesegError(f"the TensorRT backend for {self.path} is closed")
        if not self.context.execute_async_v3(int(self._stream)):
            raise EdgesegError(f"TensorRT failed to enqueue {self.path} (execute_async_v3 returned False)")
        for h_ptr, d_ptr, nbytes in zip(self.h_out_ptrs, self.d_outs, self.out_nbytes_each):
            self.cuda.copy_to_host_async(h_ptr, d_ptr, nbytes, self._stream)

    def _capture_graph(self) -> None:
        # One plain run first: TensorRT allocates and initialises lazily on the
        # first enqueue, and none of that may happen inside a capture.
        self._enqueue()
        self.cuda.stream_synchronize(self._stream)
        self.cuda.begin_capture(self._stream)
        try:
            self._enqueue()
        except BaseException as exc:
            # The capture must end (the stream stays unusable otherwise), but its own error, usually
            # "capture invalidated", is a consequence: the enqueue's error is the one to report.
            try:
                self.cuda.end_capture(self._stream)
            except CudaError as end_error:
                log.debug("ending the CUDA graph capture after %s also failed: %s", exc, end_error)
            raise
        graph = self.cuda.end_capture(self._stream)
        self._graph = graph
        self._graph_exec = self.cuda.graph_instantiate(graph)

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        np.copyto(self.h_in, feed[self.input_name])
        if self._graph_exec is not None:
            self.cuda.graph_launch(self._graph_exec, self._stream)
        else:
            self._enqueue()
        self.cuda.stream_synchronize(self._stream)
        # copies: the pinned buffers are reused by the next call
        return {name: buffer.copy() for (name, _, _), buffer in zip(self.outputs, self.h_outs) if name in names}

    def close(self) -> None:
        """Free the graph, stream and buffers (safe to call twice)."""
        cuda = getattr(self, "cuda", None)
        if cuda is None:
            return
        if self._graph_exec is not None:
            cuda.graph_destroy(self._graph, self._graph_exec)
            self._graph = self._graph_exec = None
        if self._stream is not None:
            cuda.stream_destroy(self._stream)
            self._stream = None
        while self._device_ptrs:
            cuda.free(self._device_ptrs.pop())
        while self._host_ptrs:
            cuda.free_host(self._host_ptrs.pop())
        self.context = None
        self.engine = None
