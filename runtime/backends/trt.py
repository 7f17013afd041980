"""TensorRT backend: an ``edgeseg build`` engine run with cuda-python buffers on one stream.

Loading checks the engine's sidecar first (TensorRT version, GPU, file hash;
see :func:`edgeseg.sidecar.check_artifact`). The I/O follows the
metadata's task:

- semantic: ``image`` (uint8 N x H x W x 3 BGR, or x 4 BGR + depth) -> ``labels``
  (uint8, or int32 for TensorRT 8.x exports, N x H x W);
- proposals: ``windows`` (uint8 K x S x S x 3 BGR) -> ``mask_logits``
  (float32 K x M x M) and ``scores`` (float32 K), through ``infer_outputs``.

Buffers are allocated once: device memory for the input and each output,
and pinned host memory of the same sizes so the copies are truly asynchronous. One CUDA stream
carries copy-in, ``execute_async_v3`` and copy-out; where the target asks
for it (``cuda_graphs`` in the sidecar), that sequence is captured once in a
CUDA graph and replayed per batch, which saves the per-kernel launch cost on
Jetson CPUs. Every CUDA return code is checked (:mod:`edgeseg.cuda_rt`).

Output ownership: ``infer`` returns a new array; the pinned buffers stay the
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
from edgeseg.trt_version import trt_version

from .base import Backend

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger("edgeseg.runtime")
INPUT, OUTPUT = "image", "labels"
PROPOSALS_INPUT, PROPOSALS_OUTPUTS = "windows", ("mask_logits", "scores")


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
        self.input_name = INPUT
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
        modes = {n: engine.get_tensor_mode(n) for n in names}
        proposals = self.metadata.task == "proposals"
        self.input_name = PROPOSALS_INPUT if proposals else INPUT
        output_names = PROPOSALS_OUTPUTS if proposals else (OUTPUT,)
        if modes.get(self.input_name) != trt.TensorIOMode.INPUT or \
                any(modes.get(name) != trt.TensorIOMode.OUTPUT for name in output_names):
            raise EdgesegError(f"{self.path}: expected input '{self.input_name}' and output(s) {list(output_names)} "
                               f"({self.metadata.task} model), the engine has {names}; "
                               "build it from an ONNX made by 'edgeseg export'")
        in_dtype = engine.get_tensor_dtype(self.input_name)
        if in_dtype != trt.DataType.UINT8:
            raise EdgesegError(f"{self.path}: input '{self.input_name}' is {in_dtype}, expected uint8 (NHWC BGR)")
        shape = dims_tuple(engine.get_tensor_shape(self.input_name))
        # batch_size is still the class default here; H, W, C from the metadata (the window for proposals)
        _, height, width, channels = self.input_shape
        if len(shape) != 4 or shape[3] != channels or (shape[1], shape[2]) != (height, width):
            raise EdgesegError(f"{self.path}: input shape {shape} does not match the metadata "
                               f"(N x {height} x {width} x {channels}); rebuild the engine from its ONNX")
        if shape[0] == -1:  # dynamic batch: run at the profile's opt batch
            self.batch_size = int(engine.get_tensor_profile_shape(self.input_name, 0)[1][0])
        else:
            self.batch_size = int(shape[0])
        context = engine.create_execution_context()
        self.context = context
        full = (self.batch_size, height, width, channels)
        if shape[0] == -1 and not context.set_input_shape(self.input_name, full):
            raise EdgesegError(f"{self.path}: TensorRT refused input shape {full}")
        if proposals:
            self._check_proposal_outputs(trt, engine, context)
        else:
            self._check_labels_output(trt, engine, context)

    def _check_labels_output(self, trt: Any, engine: Any, context: Any) -> None:
        out_dtype = engine.get_tensor_dtype(OUTPUT)
        if out_dtype not in (trt.DataType.UINT8, trt.DataType.INT32):
            raise EdgesegError(f"{self.path}: output '{OUTPUT}' is {out_dtype}, expected uint8 (or int32 on TensorRT 8.x)")
        host_dtype = np.dtype(np.uint8 if out_dtype == trt.DataType.UINT8 else np.int32)
        shape = dims_tuple(context.get_tensor_shape(OUTPUT))
        spec = self.metadata.input
        if shape != (self.batch_size, spec.height, spec.width):
            raise EdgesegError(f"{self.path}: output '{OUTPUT}' is {shape}, expected "
                               f"{(self.batch_size, spec.height, spec.width)}")
        self.outputs = [(OUTPUT, shape, host_dtype)]

    def _check_proposal_outputs(self, trt: Any, engine: Any, context: Any) -> None:
        """``mask_logits`` float32 K x M x M and ``scores`` float32 K (float16 is accepted and widened on the host)."""
        floats: dict[Any, np.dtype] = {trt.DataType.FLOAT: np.dtype(np.float32), trt.DataType.HALF: np.dtype(np.float16)}
        masks, scores = (dims_tuple(context.get_tensor_shape(name)) for name in PROPOSALS_OUTPUTS)
        if len(masks) != 3 or masks[0] != self.batch_size or masks[1] != masks[2] or scores != (self.batch_size,):
            raise EdgesegError(f"{self.path}: outputs are mask_logits {masks} and scores {scores}, expected "
                               f"({self.batch_size}, M, M) and ({self.batch_size},); rebuild from an 'edgeseg export' ONNX")
        self.outputs = []
        for name, shape in zip(PROPOSALS_OUTPUTS, (masks, scores)):
            dtype = engine.get_tensor_dtype(name)
            if dtype not in floats:
                raise EdgesegError(f"{self.path}: output '{name}' is {dtype}, expected float32 (or float16)")
            self.outputs.append((name, shape, floats[dtype]))

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

    def _run(self, inputs: np.ndarray) -> None:
        np.copyto(self.h_in, inputs)
        if self._graph_exec is not None:
            self.cuda.graph_launch(self._graph_exec, self._stream)
        else:
            self._enqueue()
        self.cuda.stream_synchronize(self._stream)

    def _infer(self, images: np.ndarray) -> np.ndarray:
        self._run(images)
        return self.h_outs[0].astype(np.uint8)  # a copy: the pinned buffer is reused by the next call

    def _infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        if self.metadata.task != "proposals":
            return {OUTPUT: self._infer(inputs)}
        self._run(inputs)
        # copies (astype copies by default): the pinned buffers are reused by the next call
        return {name: buffer.astype(np.float32) for (name, _, _), buffer in zip(self.outputs, self.h_outs)}

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
