"""FAKE cuda-python runtime module (``cuda.bindings.runtime`` shaped), for tests without a GPU.

Memory is real host memory (ctypes buffers at real addresses), so copies
move real bytes; "device" buffers are just separate host buffers. Work on a
stream runs at once, in call order, except while the stream is being
captured: then it is recorded into a graph, and ``cudaGraphLaunch`` replays
it. Every call is appended to ``calls`` as (name, args...). ``fail`` maps a
function name to a CUDA error code that call returns instead of succeeding.
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

    def __init__(self, name: str = "Orin", major: int = 8, minor: int = 7, *, fail: dict[str, int] | None = None):
        self.name, self.major, self.minor = name, major, minor
        self.fail = dict(fail or {})
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
        prop = SimpleNamespace(name=self.name.encode() + b"\0" * 8, major=self.major, minor=self.minor)
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
        if err:
            return (cudaError_t(err), None)
        graph = 5000 + next(self._ids)
        self.graphs[graph] = work
        return (cudaError_t.cudaSuccess, graph)

    def cudaGraphInstantiate(self, graph, flags):
        err = self._call("cudaGraphInstantiate", graph)
        if err:
            return (cudaError_t(err), None)
        exec_ = 7000 + next(self._ids)
        self.execs[exec_] = self.graphs[graph]
        return (cudaError_t.cudaSuccess, exec_)

    def cudaGraphLaunch(self, exec_, stream):
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
