"""FAKE cuda-python runtime module (``cuda.bindings.runtime`` shaped), for tests without a GPU.

Memory is real host memory (ctypes buffers at real addresses), so copies
move real bytes; "device" buffers are just separate host buffers. Work on a
stream runs at once, in call order, except while the stream is being
captured: then it is recorded into a graph, and ``cudaGraphLaunch`` replays
it. Every call is appended to ``calls`` as (name, args...). ``fail`` maps a
function name to a CUDA error code that call returns instead of succeeding;
``fail_in_capture`` does the same only while a stream is being captured, and
then, as the real runtime does, ``cudaStreamEndCapture`` returns
cudaErrorStreamCaptureInvalidated.

``api_major`` gives the call forms of that cuda-python major where they
differ: 11's ``cudaGraphInstantiate(graph, bufferSize)`` returns
``(err, exec, errorNode, log)``, 12/13's ``(graph, flags)`` returns
``(err, exec)``; ``cudaGraphInstantiateWithFlags`` is ``(err, exec)`` in all
(``tests/cuda_matrix`` checks these against the real packages).
"""

from __future__ import annotations

import ctypes
import enum
import itertools
from types import SimpleNamespace
from typing import Any


class cudaError_t(enum.IntEnum):  # noqa: N801 - the real name
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2
    cudaErrorInvalidValue = 1
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100
    cudaErrorStreamCaptureInvalidated = 901


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


class cudaStreamCaptureMode(enum.IntEnum):  # noqa: N801
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1


class FakeCudaRuntime:
    """One fake GPU: ``name`` and compute capability ``major.minor``."""

    cudaError_t = cudaError_t
    cudaMemcpyKind = cudaMemcpyKind
    cudaStreamCaptureMode = cudaStreamCaptureMode

    def __init__(self, name: str = "Orin", major: int = 8, minor: int = 7, *, fail: dict[str, int] | None = None,
                 fail_in_capture: dict[str, int] | None = None, api_major: int = 12, multiprocessors: int = 8,
                 memory_mib: int = 7620, integrated: bool = True):
        self.name, self.major, self.minor = name, major, minor
        self.multiprocessors, self.memory_mib, self.integrated = multiprocessors, memory_mib, integrated
        self.api_major = api_major
        self.fail = dict(fail or {})
        self.fail_in_capture = dict(fail_in_capture or {})
        self.capture_failed: set[int] = set()
        self.calls: list[tuple] = []
        self.buffers: dict[int, Any] = {}   # address -> ctypes buffer (keeps it alive)
        self.device: set[int] = set()
        self.host: set[int] = set()
        self.capturing: dict[int, list] = {}
        self.graphs: dict[int, list] = {}
        self.execs: dict[int, list] = {}
        self._ids = itertools.count(1)

    def _call(self, name: str, *args: Any) -> int:
        self.calls.append((name, *args))
        if self.capturing and name in self.fail_in_capture:
            self.capture_failed.update(self.capturing)  # an error inside a capture invalidates it
            return self.fail_in_capture[name]
        return self.fail.get(name, 0)

    def submit(self, stream: int, work) -> None:
        """Run ``work()`` on ``stream``: now, or into the graph being captured."""
        if stream in self.capturing:
            self.capturing[stream].append(work)
        else:
            work()

    # -- API -------------------------------------------------------------------------------
    def cudaGetErrorName(self, err):
        return (cudaError_t.cudaSuccess, cudaError_t(int(err)).name.encode())

    def cudaGetDeviceCount(self):
        err = self._call("cudaGetDeviceCount")
        return (cudaError_t(err), 0 if err else 1)

    def cudaGetDeviceProperties(self, index):
        err = self._call("cudaGetDeviceProperties", index)
        prop = SimpleNamespace(name=self.name.encode() + b"\0" * 8, major=self.major, minor=self.minor,
                               multiProcessorCount=self.multiprocessors, totalGlobalMem=self.memory_mib << 20,
                               integrated=int(self.integrated))
        return (cudaError_t(err), None if err else prop)

    def cudaSetDevice(self, index):
        return (cudaError_t(self._call("cudaSetDevice", index)),)

    def _alloc(self, kind: str, nbytes: int):
        err = self._call(kind, nbytes)
        if err:
            return (cudaError_t(err), None)
        buf = (ctypes.c_uint8 * nbytes)()
        ptr = ctypes.addressof(buf)
        self.buffers[ptr] = buf
        (self.device if kind == "cudaMalloc" else self.host).add(ptr)
        return (cudaError_t.cudaSuccess, ptr)

    def cudaMalloc(self, nbytes):
        return self._alloc("cudaMalloc", nbytes)

    def cudaMallocHost(self, nbytes):
        return self._alloc("cudaMallocHost", nbytes)

    def cudaFree(self, ptr):
        err = self._call("cudaFree", ptr)
        assert ptr in self.device, "fake cuda: cudaFree of memory not from cudaMalloc"
        self.device.discard(ptr)
        self.buffers.pop(ptr, None)
        return (cudaError_t(err),)

    def cudaFreeHost(self, ptr):
        err = self._call("cudaFreeHost", ptr)
        assert ptr in self.host, "fake cuda: cudaFreeHost of memory not from cudaMallocHost"
        self.host.discard(ptr)
        self.buffers.pop(ptr, None)
        return (cudaError_t(err),)

    def cudaMemcpyAsync(self, dst, src, nbytes, kind, stream):
        err = self._call("cudaMemcpyAsync", dst, src, nbytes, cudaMemcpyKind(int(kind)).name, int(stream))
        if not err:
            if int(kind) == cudaMemcpyKind.cudaMemcpyHostToDevice:
                assert src in self.host and dst in self.device, "fake cuda: H2D copy between wrong memories"
            else:
                assert src in self.device and dst in self.host, "fake cuda: D2H copy between wrong memories"
            self.submit(int(stream), lambda: ctypes.memmove(dst, src, nbytes))
        return (cudaError_t(err),)

    def cudaStreamCreate(self):
        err = self._call("cudaStreamCreate")
        return (cudaError_t(err), None if err else 1000 + next(self._ids))

    def cudaStreamDestroy(self, stream):
        return (cudaError_t(self._call("cudaStreamDestroy", int(stream))),)

    def cudaStreamSynchronize(self, stream):
        return (cudaError_t(self._call("cudaStreamSynchronize", int(stream))),)

    def cudaStreamBeginCapture(self, stream, mode):
        err = self._call("cudaStreamBeginCapture", int(stream))
        if not err:
            self.capturing[int(stream)] = []
        return (cudaError_t(err),)

    def cudaStreamEndCapture(self, stream):
        err = self._call("cudaStreamEndCapture", int(stream))
        work = self.capturing.pop(int(stream), [])
        if int(stream) in self.capture_failed:
            self.capture_failed.discard(int(stream))
            return (cudaError_t.cudaErrorStreamCaptureInvalidated, None)
        if err:
            return (cudaError_t(err), None)
        graph = 5000 + next(self._ids)
        self.graphs[graph] = work
        return (cudaError_t.cudaSuccess, graph)

    def _instantiate(self, name: str, graph) -> tuple:
        err = self._call(name, graph)
        if err:
            return (cudaError_t(err), None)
        exec_ = 7000 + next(self._ids)
        self.execs[exec_] = self.graphs[graph]
        return (cudaError_t.cudaSuccess, exec_)

    def cudaGraphInstantiate(self, graph, flags_or_buffer_size):
        result = self._instantiate("cudaGraphInstantiate", graph)
        return result + (None, b"") if self.api_major == 11 else result  # 11: + (errorNode, log)

    def cudaGraphInstantiateWithFlags(self, graph, flags):
        return self._instantiate("cudaGraphInstantiateWithFlags", graph)

    def cudaDriverGetVersion(self):
        return (cudaError_t(self._call("cudaDriverGetVersion")), self.api_major * 1000 + 60)

    def cudaRuntimeGetVersion(self):
        return (cudaError_t(self._call("cudaRuntimeGetVersion")), self.api_major * 1000 + 60)

    def cudaGraphLaunch(self, exec_, stream):
        if not isinstance(exec_, int):  # the real binding: a TypeError for anything but a cudaGraphExec_t
            raise TypeError(f"Argument 'graphExec' is not instance of type (expected <class 'int'>), got {type(exec_)}")
        err = self._call("cudaGraphLaunch", exec_, int(stream))
        if not err:
            for work in self.execs[exec_]:
                work()
        return (cudaError_t(err),)

    def cudaGraphExecDestroy(self, exec_):
        self.execs.pop(exec_, None)
        return (cudaError_t(self._call("cudaGraphExecDestroy", exec_)),)

    def cudaGraphDestroy(self, graph):
        self.graphs.pop(graph, None)
        return (cudaError_t(self._call("cudaGraphDestroy", graph)),)

    def names(self) -> list[str]:
        """The names of the calls made so far, in order."""
        return [c[0] for c in self.calls]
