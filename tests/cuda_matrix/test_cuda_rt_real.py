"""The CUDA runtime wrapper (edgeseg/cuda_rt.py) against the REAL cuda-python installed, without a driver.

Runs in the project's .venv (cuda-python 13) with the rest of the tests, and in
each environment of scripts/cuda_python_matrix.py (cuda-python 11.8 on Python
3.8 as on JetPack 5, cuda-bindings 11.8, cuda-python 12.6 as on JetPack 6),
which `make test` runs. No NVIDIA driver is needed: with none, every call must
end in the one-line CUDA error 35 message. A call with the wrong number or
types of arguments for that release raises TypeError first, and fails here
(as ``cudaGraphInstantiate(graph, 0)``, the CUDA 12 form, does on 11.x).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("EDGESEG_SOURCE_ROOT", Path(__file__).resolve().parents[2]))


def load_cuda_rt():
    """edgeseg.cuda_rt where edgeseg is installed, else edgeseg/cuda_rt.py from the work tree."""
    try:
        import edgeseg  # noqa: F401
    except ImportError:  # a matrix environment: only cuda-python, numpy and pytest are installed
        sys.path.insert(0, str(ROOT))
    from edgeseg import cuda_rt

    return cuda_rt


cuda_rt = load_cuda_rt()
pytest.importorskip("cuda")


@pytest.fixture(scope="module")
def cuda():
    runtime = cuda_rt.CudaRuntime()
    driver = _driver_version(runtime)
    if driver:
        pytest.skip(f"an NVIDIA driver is present (CUDA {driver}); scripts/gpu_smoke.py runs the real calls")
    return runtime


def _driver_version(runtime) -> int:
    try:
        return runtime.driver_and_runtime_versions()[0]
    except cuda_rt.CudaError:
        return 0


def _major(runtime) -> int:
    return int(runtime.version_text().split(".")[0])


def no_driver(call, *args):
    """``call(*args)`` must raise the clean error-35 CudaError (a TypeError means a wrong call form)."""
    with pytest.raises(cuda_rt.CudaError) as err:
        call(*args)
    assert err.value.code == cuda_rt.INSUFFICIENT_DRIVER, str(err.value)
    text = str(err.value)
    assert text.startswith("CUDA is not usable here: no NVIDIA driver") and "\n" not in text
    assert "install or update the NVIDIA driver" in text and "--backend onnxruntime" in text
    return text


def test_the_real_cuda_python_is_loaded(cuda):
    module = cuda_rt.import_cudart()
    assert module.__name__ in ("cuda.bindings.runtime", "cuda.cudart")
    assert _major(cuda) in (11, 12, 13), cuda.version_text()
    print(f"cuda-python {cuda.version_text()} ({module.__name__}), Python {sys.version.split()[0]}")


def test_every_call_the_wrapper_makes_ends_in_error_35(cuda):
    rt = cuda.rt
    stream, graph, graph_exec = rt.cudaStream_t(), rt.cudaGraph_t(), rt.cudaGraphExec_t()
    texts = [
        no_driver(cuda.device_count),
        no_driver(cuda.device_info, 0),
        no_driver(cuda.set_device, 0),
        no_driver(cuda.malloc, 4096, "'image'"),
        no_driver(cuda.malloc_host, 4096, "'image'"),
        no_driver(cuda.free, 0),
        no_driver(cuda.free_host, 0),
        no_driver(cuda.copy_to_device_async, 0, 0, 16, stream),
        no_driver(cuda.copy_to_host_async, 0, 0, 16, stream),
        no_driver(cuda.stream_create),
        no_driver(cuda.stream_synchronize, stream),
        no_driver(cuda.stream_destroy, stream),
        no_driver(cuda.begin_capture, stream),
        no_driver(cuda.end_capture, stream),
        no_driver(cuda.graph_instantiate, graph),
        no_driver(cuda.graph_launch, graph_exec, stream),
        no_driver(cuda.graph_destroy, graph, graph_exec),
    ]
    assert "while allocating 4096 bytes of device memory for 'image'" in texts[3]
    assert "while instantiating the CUDA graph" in texts[14]


def test_query_gpu_and_auto_detection_fall_through_cleanly(cuda):
    with pytest.raises(cuda_rt.CudaError, match="CUDA is not usable here"):
        cuda_rt.query_gpu()


def test_the_names_and_fields_the_wrapper_reads_exist(cuda):
    rt = cuda.rt
    assert int(rt.cudaMemcpyKind.cudaMemcpyHostToDevice) == 1 and int(rt.cudaMemcpyKind.cudaMemcpyDeviceToHost) == 2
    assert int(rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal) == 1
    prop = rt.cudaDeviceProp()
    for field in ("name", "major", "minor", "multiProcessorCount", "totalGlobalMem", "integrated"):
        assert hasattr(prop, field), field
    assert int(rt.cudaStream_t()) == 0  # execute_async_v3 takes int(stream)
    assert cuda.error_name(35) == "cudaErrorInsufficientDriver"
    assert cuda.error_name(100) == "cudaErrorNoDevice"


def test_graph_instantiate_form_differs_by_major_and_the_wrapper_uses_the_shared_one(cuda):
    """cudaGraphInstantiate: 11.x (graph, logBuffer, bufferSize), 12+ (graph, flags); WithFlags is (graph, flags) in all."""
    rt = cuda.rt
    first_line = rt.cudaGraphInstantiate.__doc__.strip().splitlines()[0]
    if _major(cuda) == 11:
        assert "bufferSize" in first_line
        with pytest.raises(TypeError):
            rt.cudaGraphInstantiate(rt.cudaGraph_t(), 0)  # the CUDA 12 form: the bug this guards against
    else:
        assert "flags" in first_line
    assert rt.cudaGraphInstantiateWithFlags.__doc__.strip().splitlines()[0].startswith(
        "cudaGraphInstantiateWithFlags(graph, unsigned long long flags)")


@pytest.mark.skipif(sys.version_info >= (3, 9), reason="the Python 3.8 (JetPack 5) environment checks this")
def test_runtime_and_engine_code_compiles_on_python_38():
    """JetPack 5's Python: every module of the runtime and engine stages and the core they import must compile."""
    failures = []
    for folder in ("edgeseg", "engines", "runtime"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            try:
                compile(path.read_text(encoding="utf-8"), str(path), "exec")
            except SyntaxError as exc:
                failures.append(f"{path.relative_to(ROOT)}:{exc.lineno}: {exc.msg}")
    assert failures == []
