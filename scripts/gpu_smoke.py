"""Run edgeseg's CUDA paths for real on an NVIDIA GPU, through the same wrapper the TensorRT backend uses.

    python scripts/gpu_smoke.py [--iterations 200] [--mib 8] [--json out.json]

What it does with :class:`edgeseg.cuda_rt.CudaRuntime` (the checked
cuda-python calls of edgeseg/cuda_rt.py):

1. device buffers and pinned host buffers; an H2D and a D2H copy on one
   stream, the bytes checked after the round trip, and the copy bandwidth;
2. a CUDA graph captured on that stream (thread-local mode, as the backend
   does) holding copy-in, a kernel, copy-out; replayed ``--iterations`` times
   with new input each time, every result checked. The kernel is a torch
   (``x * 3 + 1`` on uint8, through ``torch.cuda.ExternalStream``) where torch
   has CUDA, else CuPy's, else a ``cudaMemsetAsync`` node (no kernel library);
3. the per-iteration time of the graph replay against the same work enqueued
   call by call, measured interleaved in one run (a ratio, not a claim about
   any other machine).

Without an NVIDIA GPU (or driver, or cuda-python) it prints why and exits 0:
"skipped". With one, any failed check exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def load_wrapper() -> Any:
    from edgeseg import cuda_rt  # the work tree's edgeseg/ comes first on sys.path (above)

    return cuda_rt


def pick_kernel(cuda: Any, stream: Any, d_in: int, d_out: int, n: int) -> tuple[str, Callable[[], None], Callable]:
    """(name, enqueue the kernel on ``stream``, expected output of an input array)."""
    try:
        import torch

        if torch.cuda.is_available():
            ext = torch.cuda.ExternalStream(int(stream))
            src = torch.as_tensor(_DevicePtr(d_in, n), device="cuda")
            dst = torch.as_tensor(_DevicePtr(d_out, n), device="cuda")

            def run_torch() -> None:
                with torch.cuda.stream(ext):
                    torch.add(src.mul(3), 1, out=dst)

            return "torch x*3+1", run_torch, lambda x: (x.astype(np.uint16) * 3 + 1).astype(np.uint8)
    except Exception:  # no torch, no CUDA build of torch, or no __cuda_array_interface__ support
        pass
    try:
        import cupy

        src = cupy.ndarray((n,), cupy.uint8, cupy.cuda.MemoryPointer(cupy.cuda.UnownedMemory(d_in, n, None), 0))
        dst = cupy.ndarray((n,), cupy.uint8, cupy.cuda.MemoryPointer(cupy.cuda.UnownedMemory(d_out, n, None), 0))
        ext = cupy.cuda.ExternalStream(int(stream))

        def run_cupy() -> None:
            with ext:
                cupy.add(cupy.multiply(src, 3, dtype=cupy.uint8), 1, out=dst, dtype=cupy.uint8)

        return "cupy x*3+1", run_cupy, lambda x: (x.astype(np.uint16) * 3 + 1).astype(np.uint8)
    except Exception:
        pass

    def run_memset() -> None:
        cuda.call(cuda.rt.cudaMemsetAsync, "setting device memory", 0, d_out, 7, n, stream)

    return "cudaMemsetAsync(7) (no torch/CuPy with CUDA)", run_memset, lambda x: np.full_like(x, 7)


class _DevicePtr:
    """A raw device buffer seen through ``__cuda_array_interface__`` (torch and CuPy read it)."""

    def __init__(self, ptr: int, n: int):
        self.__cuda_array_interface__ = {"shape": (n,), "typestr": "|u1", "data": (ptr, False), "version": 3}


def smoke(iterations: int, mib: int) -> dict[str, Any]:
    cuda_rt = load_wrapper()
    cuda = cuda_rt.CudaRuntime()
    gpu = cuda.device_info(0)
    cuda.set_device(0)
    driver, runtime = cuda.driver_and_runtime_versions()
    n = mib << 20
    d_in, d_out = cuda.malloc(n, "smoke input"), cuda.malloc(n, "smoke output")
    h_in_ptr, h_out_ptr = cuda.malloc_host(n, "smoke input"), cuda.malloc_host(n, "smoke output")
    h_in, h_out = cuda.host_array(h_in_ptr, (n,), np.uint8), cuda.host_array(h_out_ptr, (n,), np.uint8)
    stream = cuda.stream_create()
    result: dict[str, Any] = {"gpu": gpu.to_dict(), "cuda_python": cuda.version_text(),
                              "driver_cuda": driver, "runtime_cuda": runtime, "bytes": n}
    graph = graph_exec = None
    try:
        rng = np.random.default_rng(0)
        # 1. round trip through device memory, and the copy bandwidth
        h_in[:] = rng.integers(0, 256, n, dtype=np.uint8)
        start = time.perf_counter()
        cuda.copy_to_device_async(d_in, h_in_ptr, n, stream)
        cuda.copy_to_host_async(h_out_ptr, d_in, n, stream)
        cuda.stream_synchronize(stream)
        seconds = time.perf_counter() - start
        assert np.array_equal(h_out, h_in), "H2D/D2H round trip changed the bytes"
        result["round_trip_gib_s"] = round(2 * n / seconds / (1 << 30), 2)

        # 2. graph of copy-in, kernel, copy-out
        name, kernel, expected = pick_kernel(cuda, stream, d_in, d_out, n)
        result["kernel"] = name

        def enqueue() -> None:
            cuda.copy_to_device_async(d_in, h_in_ptr, n, stream)
            kernel()
            cuda.copy_to_host_async(h_out_ptr, d_out, n, stream)

        enqueue()  # warm-up outside the capture (lazy initialisation must not happen inside one)
        cuda.stream_synchronize(stream)
        cuda.begin_capture(stream)
        try:
            enqueue()
        finally:
            graph = cuda.end_capture(stream)
        graph_exec = cuda.graph_instantiate(graph)
        checked = 0
        for i in range(min(iterations, 20)):
            h_in[:] = rng.integers(0, 256, n, dtype=np.uint8)
            cuda.graph_launch(graph_exec, stream)
            cuda.stream_synchronize(stream)
            assert np.array_equal(h_out, expected(h_in)), f"graph replay {i} gave wrong output"
            checked += 1
        result["graph_replays_checked"] = checked

        # 3. replay vs call-by-call, interleaved
        plain, replay = [], []
        for _ in range(iterations):
            t = time.perf_counter()
            enqueue()
            cuda.stream_synchronize(stream)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            cuda.graph_launch(graph_exec, stream)
            cuda.stream_synchronize(stream)
            replay.append(time.perf_counter() - t)
        result["enqueue_median_ms"] = round(float(np.median(plain)) * 1e3, 4)
        result["graph_median_ms"] = round(float(np.median(replay)) * 1e3, 4)
        result["graph_over_enqueue"] = round(float(np.median(replay) / np.median(plain)), 3)
    finally:
        if graph_exec is not None:
            cuda.graph_destroy(graph, graph_exec)
        cuda.stream_destroy(stream)
        for ptr in (d_in, d_out):
            cuda.free(ptr)
        for ptr in (h_in_ptr, h_out_ptr):
            cuda.free_host(ptr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--mib", type=int, default=8, help="buffer size in MiB")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args(argv)
    cuda_rt = load_wrapper()
    try:
        result = smoke(args.iterations, args.mib)
    except cuda_rt.CudaError as exc:
        if exc.code in (cuda_rt.INSUFFICIENT_DRIVER, cuda_rt.NO_DEVICE):
            print(f"skipped: no usable NVIDIA GPU here ({exc})")
            return 0
        print(f"FAILED: {exc}")
        return 1
    except cuda_rt.MissingDependencyError as exc:
        print(f"skipped: {exc}")
        return 0
    except AssertionError as exc:
        print(f"FAILED: {exc}")
        return 1
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
