"""The few CUDA runtime calls edgeseg needs, through cuda-python, every return code checked.

cuda-python (``pip install 'edgeseg[trt]'``) returns ``(error, *values)``
tuples instead of raising; :class:`CudaRuntime` turns every non-zero code into
a :class:`CudaError` that names the call and what to do. Without a driver
cuda-python still imports and its calls return error 35
(``cudaErrorInsufficientDriver``): that becomes a one-line message, not a
traceback.

The module object is injectable (``CudaRuntime(module)``) so the TensorRT
backend's call order can be tested against a fake runtime without a GPU.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, MissingDependencyError

INSUFFICIENT_DRIVER = 35
NO_DEVICE = 100


class CudaError(EdgesegError):
    """A CUDA runtime call failed; ``code`` is the ``cudaError_t`` value."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GpuInfo:
    """The GPU an engine is built for or runs on.

    ``name`` and ``compute_capability`` ("8.7") do not tell Jetson Orin modules
    apart (every one is "Orin", 8.7): ``multiprocessors`` (AGX Orin 16 or 14,
    Orin NX 8, Orin Nano 8 or 4), ``memory_mib`` and ``integrated`` (a Jetson's
    GPU shares the SoC's memory) do. 0 / None where unknown.
    """

    name: str
    compute_capability: str
    multiprocessors: int = 0
    memory_mib: int = 0
    integrated: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "compute_capability": self.compute_capability}
        if self.multiprocessors:
            data.update(multiprocessors=self.multiprocessors, memory_mib=self.memory_mib, integrated=self.integrated)
        return data


def import_cudart() -> Any:
    """The cuda-python runtime module (``cuda.bindings.runtime``, or ``cuda.cudart`` before 12.6)."""
    try:
        from cuda.bindings import runtime

        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart

        return cudart
    except ImportError as exc:
        raise MissingDependencyError(
            f"cuda-python is not installed ({exc}); install it with: pip install 'edgeseg[trt]'"
        ) from None


class CudaRuntime:
    """Checked wrappers around cuda-python's runtime API.

    Args:
        module: a cuda-python runtime module; None imports the real one.
    """

    def __init__(self, module: Any = None):
        self.rt = module if module is not None else import_cudart()

    def call(self, function: Any, what: str, values_expected: int, *args: Any) -> Any:
        """``function(*args)`` checked by :meth:`check`.

        Without a driver, cuda-python 12.8+ returns error 35, but 11.x and 12.0-12.7 raise
        ``RuntimeError("Failed to dlopen libcuda.so.1")`` (or 'Function "cuInit" not found'):
        that becomes the same :class:`CudaError` 35 and its one-line message.
        """
        try:
            result = function(*args)
        except RuntimeError as exc:
            text = str(exc)
            if "libcuda" in text or "not found" in text:
                raise CudaError(self.describe(INSUFFICIENT_DRIVER, what) + f" [cuda-python: {text}]",
                                INSUFFICIENT_DRIVER) from None
            raise
        return self.check(result, what, values_expected)

    def check(self, result: Any, what: str, values_expected: int | None = None) -> Any:
        """Raise :class:`CudaError` unless ``result[0]`` is cudaSuccess; return the other values.

        One value comes back bare, several as a tuple, none as None.
        ``values_expected``: how many values the call returns besides the error in
        the cuda-python versions edgeseg supports; another count (a call whose form
        changed between CUDA majors) is an error naming the call, not a wrong value
        handed on. cuda-python returns its placeholders even on failure, so this
        holds without a driver too.
        """
        if isinstance(result, tuple):
            err, values = result[0], result[1:]
        else:
            err, values = result, ()
        if values_expected is not None and len(values) != values_expected:
            raise CudaError(f"cuda-python {self.version_text()} returned {len(values)} value(s) while {what}, "
                            f"edgeseg expects {values_expected}; install the cuda-python that matches this "
                            "CUDA (docs/jetson.md)", -1)
        code = int(err)
        if code != 0:
            raise CudaError(self.describe(code, what), code)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def describe(self, code: int, what: str) -> str:
        """A message for CUDA error ``code`` raised while doing ``what``."""
        name = self.error_name(code)
        if code == INSUFFICIENT_DRIVER:
            return (f"CUDA is not usable here: no NVIDIA driver, or one older than this cuda-python needs "
                    f"(CUDA error {code} {name} while {what}); install or update the NVIDIA driver "
                    "(on Jetson it comes with JetPack), or run on the CPU with --backend onnxruntime / --target cpu")
        if code == NO_DEVICE:
            return (f"no CUDA GPU found (CUDA error {code} {name} while {what}); check nvidia-smi and "
                    "CUDA_VISIBLE_DEVICES, or run on the CPU with --backend onnxruntime / --target cpu")
        return f"CUDA error {code} {name} while {what}"

    def version_text(self) -> str:
        """The cuda-python (cuda-bindings) version, "unknown" for a module without one (a fake)."""
        from importlib import metadata

        for dist in ("cuda-bindings", "cuda-python"):
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
        return "unknown"

    def driver_and_runtime_versions(self) -> tuple[int, int]:
        """(CUDA driver API version, the CUDA runtime cuda-python was built for), e.g. (12060, 12060); 0 = no driver."""
        driver = int(self.call(self.rt.cudaDriverGetVersion, "reading the CUDA driver version", 1))
        runtime = int(self.call(self.rt.cudaRuntimeGetVersion, "reading the CUDA runtime version", 1))
        return driver, runtime

    def error_name(self, code: int) -> str:
        try:
            err, name = self.rt.cudaGetErrorName(self.rt.cudaError_t(code))
            return name.decode() if isinstance(name, bytes) else str(name)
        except Exception:  # an unknown code must not hide the original error
            return "cudaError"

    # -- device ---------------------------------------------------------------
    def device_count(self) -> int:
        return int(self.call(self.rt.cudaGetDeviceCount, "counting CUDA devices", 1))

    def device_info(self, index: int = 0) -> GpuInfo:
        """Name and compute capability of device ``index``."""
        count = self.device_count()
        if index >= count:
            raise CudaError(f"CUDA device {index} does not exist ({count} found)", NO_DEVICE)
        prop = self.call(self.rt.cudaGetDeviceProperties, f"reading the properties of CUDA device {index}", 1, index)
        name = prop.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode(errors="replace")
        return GpuInfo(str(name).strip(), f"{prop.major}.{prop.minor}", int(prop.multiProcessorCount),
                       int(prop.totalGlobalMem) >> 20, bool(prop.integrated))

    def set_device(self, index: int) -> None:
        """Make device ``index`` current for this thread (the runtime API's primary context)."""
        self.call(self.rt.cudaSetDevice, f"selecting CUDA device {index}", 0, index)

    # -- memory ---------------------------------------------------------------
    def malloc(self, nbytes: int, what: str) -> int:
        """Device memory of ``nbytes``; returns the address."""
        return int(self.call(self.rt.cudaMalloc, f"allocating {nbytes} bytes of device memory for {what}", 1, nbytes))

    def free(self, ptr: int) -> None:
        self.call(self.rt.cudaFree, "freeing device memory", 0, ptr)

    def malloc_host(self, nbytes: int, what: str) -> int:
        """Pinned (page-locked) host memory of ``nbytes``; returns the address."""
        return int(self.call(self.rt.cudaMallocHost, f"allocating {nbytes} bytes of pinned host memory for {what}", 1, nbytes))

    def free_host(self, ptr: int) -> None:
        self.call(self.rt.cudaFreeHost, "freeing pinned host memory", 0, ptr)

    @staticmethod
    def host_array(ptr: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A numpy view of ``shape``/``dtype`` over host memory at ``ptr`` (no copy; the memory stays owned by the caller)."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        buffer = (ctypes.c_uint8 * nbytes).from_address(ptr)
        return np.frombuffer(buffer, dtype=dtype, count=int(np.prod(shape))).reshape(shape)

    def copy_to_device_async(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self.call(self.rt.cudaMemcpyAsync, f"copying {nbytes} bytes to the GPU", 0, dst, src, nbytes, kind, stream)

    def copy_to_host_async(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self.call(self.rt.cudaMemcpyAsync, f"copying {nbytes} bytes from the GPU", 0, dst, src, nbytes, kind, stream)

    # -- streams and graphs -----------------------------------------------------
    def stream_create(self) -> Any:
        return self.call(self.rt.cudaStreamCreate, "creating a CUDA stream", 1)

    def stream_destroy(self, stream: Any) -> None:
        self.call(self.rt.cudaStreamDestroy, "destroying a CUDA stream", 0, stream)

    def stream_synchronize(self, stream: Any) -> None:
        self.call(self.rt.cudaStreamSynchronize, "waiting for the CUDA stream", 0, stream)

    def begin_capture(self, stream: Any) -> None:
        # Thread-local mode: other pipeline threads may call CUDA (e.g. allocate)
        # while this one captures; global mode would invalidate the capture.
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self.call(self.rt.cudaStreamBeginCapture, "starting CUDA graph capture", 0, stream, mode)

    def end_capture(self, stream: Any) -> Any:
        return self.call(self.rt.cudaStreamEndCapture, "ending CUDA graph capture", 1, stream)

    def graph_instantiate(self, graph: Any) -> Any:
        """The executable graph of ``graph``.

        ``cudaGraphInstantiateWithFlags(graph, flags) -> (err, exec)`` has the same form
        in cuda-python 11, 12 and 13; ``cudaGraphInstantiate`` does not (11:
        ``(graph, bufferSize) -> (err, exec, errorNode, log)``, 12+: ``(graph, flags) -> (err, exec)``).
        """
        return self.call(self.rt.cudaGraphInstantiateWithFlags, "instantiating the CUDA graph", 1, graph, 0)

    def graph_launch(self, graph_exec: Any, stream: Any) -> None:
        self.call(self.rt.cudaGraphLaunch, "launching the CUDA graph", 0, graph_exec, stream)

    def graph_destroy(self, graph: Any, graph_exec: Any) -> None:
        self.call(self.rt.cudaGraphExecDestroy, "destroying the CUDA graph", 0, graph_exec)
        self.call(self.rt.cudaGraphDestroy, "destroying the CUDA graph", 0, graph)


def query_gpu(index: int = 0, module: Any = None) -> GpuInfo:
    """The name and compute capability of GPU ``index`` (raises CudaError / MissingDependencyError)."""
    return CudaRuntime(module).device_info(index)
