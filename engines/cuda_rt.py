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
    """The GPU an engine is built for or runs on: name and compute capability ("8.7")."""

    name: str
    compute_capability: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "compute_capability": self.compute_capability}


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

    def check(self, result: Any, what: str) -> Any:
        """Raise :class:`CudaError` unless ``result[0]`` is cudaSuccess; return the other values.

        One value comes back bare, several as a tuple, none as None.
        """
        if isinstance(result, tuple):
            err, values = result[0], result[1:]
        else:
            err, values = result, ()
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

    def error_name(self, code: int) -> str:
        try:
            err, name = self.rt.cudaGetErrorName(self.rt.cudaError_t(code))
            return name.decode() if isinstance(name, bytes) else str(name)
        except Exception:  # an unknown code must not hide the original error
            return "cudaError"

    # -- device ---------------------------------------------------------------
    def device_count(self) -> int:
        return int(self.check(self.rt.cudaGetDeviceCount(), "counting CUDA devices"))

    def device_info(self, index: int = 0) -> GpuInfo:
        """Name and compute capability of device ``index``."""
        count = self.device_count()
        if index >= count:
            raise CudaError(f"CUDA device {index} does not exist ({count} found)", NO_DEVICE)
        prop = self.check(self.rt.cudaGetDeviceProperties(index), f"reading the properties of CUDA device {index}")
        name = prop.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode(errors="replace")
        return GpuInfo(str(name).strip(), f"{prop.major}.{prop.minor}")

    def set_device(self, index: int) -> None:
        """Make device ``index`` current for this thread (the runtime API's primary context)."""
        self.check(self.rt.cudaSetDevice(index), f"selecting CUDA device {index}")

    # -- memory ---------------------------------------------------------------
    def malloc(self, nbytes: int, what: str) -> int:
        """Device memory of ``nbytes``; returns the address."""
        return int(self.check(self.rt.cudaMalloc(nbytes), f"allocating {nbytes} bytes of device memory for {what}"))

    def free(self, ptr: int) -> None:
        self.check(self.rt.cudaFree(ptr), "freeing device memory")

    def malloc_host(self, nbytes: int, what: str) -> int:
        """Pinned (page-locked) host memory of ``nbytes``; returns the address."""
        return int(self.check(self.rt.cudaMallocHost(nbytes), f"allocating {nbytes} bytes of pinned host memory for {what}"))

    def free_host(self, ptr: int) -> None:
        self.check(self.rt.cudaFreeHost(ptr), "freeing pinned host memory")

    @staticmethod
    def host_array(ptr: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A numpy view of ``shape``/``dtype`` over host memory at ``ptr`` (no copy; the memory stays owned by the caller)."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        buffer = (ctypes.c_uint8 * nbytes).from_address(ptr)
        return np.frombuffer(buffer, dtype=dtype, count=int(np.prod(shape))).reshape(shape)

    def copy_to_device_async(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self.check(self.rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream), f"copying {nbytes} bytes to the GPU")

    def copy_to_host_async(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self.check(self.rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream), f"copying {nbytes} bytes from the GPU")

    # -- streams and graphs -----------------------------------------------------
    def stream_create(self) -> Any:
        return self.check(self.rt.cudaStreamCreate(), "creating a CUDA stream")

    def stream_destroy(self, stream: Any) -> None:
        self.check(self.rt.cudaStreamDestroy(stream), "destroying a CUDA stream")

    def stream_synchronize(self, stream: Any) -> None:
        self.check(self.rt.cudaStreamSynchronize(stream), "waiting for the CUDA stream")

    def begin_capture(self, stream: Any) -> None:
        # Thread-local mode: other pipeline threads may call CUDA (e.g. allocate)
        # while this one captures; global mode would invalidate the capture.
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self.check(self.rt.cudaStreamBeginCapture(stream, mode), "starting CUDA graph capture")

    def end_capture(self, stream: Any) -> Any:
        return self.check(self.rt.cudaStreamEndCapture(stream), "ending CUDA graph capture")

    def graph_instantiate(self, graph: Any) -> Any:
        return self.check(self.rt.cudaGraphInstantiate(graph, 0), "instantiating the CUDA graph")

    def graph_launch(self, graph_exec: Any, stream: Any) -> None:
        self.check(self.rt.cudaGraphLaunch(graph_exec, stream), "launching the CUDA graph")

    def graph_destroy(self, graph: Any, graph_exec: Any) -> None:
        self.check(self.rt.cudaGraphExecDestroy(graph_exec), "destroying the CUDA graph")
        self.check(self.rt.cudaGraphDestroy(graph), "destroying the CUDA graph")


def query_gpu(index: int = 0, module: Any = None) -> GpuInfo:
    """The name and compute capability of GPU ``index`` (raises CudaError / MissingDependencyError)."""
    return CudaRuntime(module).device_info(index)
