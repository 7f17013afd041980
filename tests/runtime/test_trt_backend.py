"""The TensorRT backend against a FAKE tensorrt and a FAKE CUDA runtime (tests/fakes/), plus real cuda-python without a driver.

The engines are built by the real builder (against the fake TensorRT); the
fake engine's "model" writes the input's blue channel as the labels, so the
values that come back prove the bytes were copied in, run and copied out in
that order through the backend's buffers.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from fakes.fake_cuda import FakeCudaRuntime
from fakes.fake_tensorrt import make_fake_tensorrt, touched
from helpers import make_contract_onnx

from edgeseg.cli import main
from edgeseg.cuda_rt import CudaRuntime, GpuInfo
from edgeseg.engines.build import build
from edgeseg.engines.targets import get_target
from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.backends.trt import TrtBackend

ORIN = GpuInfo("Orin", "8.7")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """(fake trt, fake cuda, engine builder) sharing one timeline."""
    monkeypatch.setenv("EDGESEG_CACHE_DIR", str(tmp_path / "cache"))
    state = {}

    def setup(version="10.3.0.30", target="jetson-orin-nano", batch=1, gpu=ORIN, channels=3, **cuda_kwargs):
        cuda = FakeCudaRuntime(gpu.name, *map(int, gpu.compute_capability.split(".")), **cuda_kwargs)
        fake = make_fake_tensorrt(version, cuda=cuda)
        monkeypatch.setitem(sys.modules, "tensorrt", fake)
        onnx_path, _, _ = make_contract_onnx(tmp_path / f"m{len(state)}.onnx", batch=batch, channels=channels)
        result = build(onnx_path, get_target(target), tmp_path / "out", gpu_probe=lambda: gpu)
        state[target] = result
        return fake, cuda, result.artifact

    return setup


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 48, 3), dtype=np.uint8)


def test_rgbd_engine_takes_4_channels(env):
    """An RGB-D engine (BGR + depth): buffers and the input check follow the metadata's input.channels."""
    fake, cuda, engine = env(channels=4)
    backend = TrtBackend(engine, cuda=CudaRuntime(cuda), cuda_graphs=False)
    assert backend.input_shape == (1, 32, 48, 4)
    assert ("cudaMalloc", 32 * 48 * 4) in cuda.calls
    frames = np.random.default_rng(0).integers(0, 256, (1, 32, 48, 4), dtype=np.uint8)
    assert np.array_equal(backend.infer(frames), frames[..., 0])  # the fake's model: labels = blue channel
    with pytest.raises(EdgesegError, match="expects uint8 N x 32 x 48 x 4 BGR \\+ depth images"):
        backend.infer(images(1))


def test_buffers_and_call_order(env):
    fake, cuda, engine = env()
    backend = TrtBackend(engine, cuda=CudaRuntime(cuda), cuda_graphs=False)
    nbytes_in, nbytes_out = 32 * 48 * 3, 32 * 48
    assert [c for c in cuda.calls if c[0] in ("cudaMalloc", "cudaMallocHost")] == [
        ("cudaMalloc", nbytes_in), ("cudaMalloc", nbytes_out), ("cudaMallocHost", nbytes_in), ("cudaMallocHost", nbytes_out)]
    assert [c[1] for c in touched(fake, "set_tensor_address")] == ["image", "labels"]
    assert cuda.names().count("cudaStreamCreate") == 1
    start = len(cuda.calls)
    for seed in range(3):
        batch = images(1, seed)
        labels = backend.infer(batch)
        assert labels.dtype == np.uint8 and labels.shape == (1, 32, 48)
        assert np.array_equal(labels, batch[..., 0])  # the fake engine's answer: blue channel
    per_call = cuda.names()[start:]
    assert per_call == ["cudaMemcpyAsync", "execute_async_v3", "cudaMemcpyAsync", "cudaStreamSynchronize"] * 3
    copies = [c for c in cuda.calls[start:start + 4] if c[0] == "cudaMemcpyAsync"]
    assert [(c[3], c[4]) for c in copies] == [(nbytes_in, "cudaMemcpyHostToDevice"), (nbytes_out, "cudaMemcpyDeviceToHost")]
    streams = {c[-1] for c in cuda.calls if c[0] in ("cudaMemcpyAsync", "execute_async_v3", "cudaStreamSynchronize")}
    assert len(streams) == 1  # one stream for everything
    assert cuda.names().count("cudaMalloc") == 2  # allocated once, not per call
    backend.close()
    assert cuda.device == set() and cuda.host == set() and "cudaStreamDestroy" in cuda.names()
    backend.close()  # twice is fine


def test_cuda_graph_capture_and_replay(env):
    _, cuda, engine = env()  # jetson-orin-nano: cuda_graphs = true in its target file
    with TrtBackend(engine, cuda=CudaRuntime(cuda)) as backend:
        names = cuda.names()
        assert names.index("cudaStreamBeginCapture") < names.index("cudaStreamEndCapture") \
            < names.index("cudaGraphInstantiateWithFlags")
        # one plain warm-up run happens before the capture
        assert names.index("execute_async_v3") < names.index("cudaStreamBeginCapture")
        start = len(cuda.calls)
        for seed in (1, 2):  # different inputs: the replayed graph reads the pinned buffer anew
            batch = images(1, seed)
            assert np.array_equal(backend.infer(batch), batch[..., 0])
        assert cuda.names()[start:] == ["cudaGraphLaunch", "cudaStreamSynchronize"] * 2
    assert "cudaGraphExecDestroy" in cuda.names() and cuda.device == set()


@pytest.mark.parametrize("api_major", [11, 12, 13])
def test_cuda_graphs_with_each_cuda_python_major(env, api_major):
    """cuda-python 11 (JetPack 5) has another cudaGraphInstantiate form: the one call form all majors share is used."""
    _, cuda, engine = env(api_major=api_major)
    with TrtBackend(engine, cuda=CudaRuntime(cuda)) as backend:
        batch = images(1, 3)
        assert np.array_equal(backend.infer(batch), batch[..., 0])
        assert "cudaGraphLaunch" in cuda.names()


def test_enqueue_error_during_capture_is_the_one_reported(env):
    """A copy failing inside the capture invalidates it; the copy's error is reported, not 'capture invalidated'."""
    _, cuda, engine = env(fail_in_capture={"cudaMemcpyAsync": 1})
    with pytest.raises(EdgesegError, match=r"CUDA error 1 cudaErrorInvalidValue while copying 4608 bytes to the GPU") as err:
        TrtBackend(engine, cuda=CudaRuntime(cuda))
    assert "Invalidated" not in str(err.value)
    assert "cudaStreamEndCapture" in cuda.names()  # the capture was still ended
    assert cuda.device == set() and cuda.host == set()


def test_dynamic_batch_engine_runs_at_the_profile_batch(env):
    fake, cuda, engine = env(target="desktop-hopper", batch="N", gpu=GpuInfo("NVIDIA H100", "9.0"))
    with TrtBackend(engine, cuda=CudaRuntime(cuda), cuda_graphs=False) as backend:
        assert backend.input_shape == (4, 32, 48, 3)
        assert touched(fake, "set_input_shape") == [("set_input_shape", "image", (4, 32, 48, 3))]
        assert ("cudaMalloc", 4 * 32 * 48 * 3) in cuda.calls
        batch = images(5)
        assert np.array_equal(backend.infer(batch), batch[..., 0])  # 4 + 1 padded


def test_tensorrt8_int32_labels(env):
    _, cuda, engine = env(version="8.5.2.2", target="jetson-xavier-nx", gpu=GpuInfo("Xavier", "7.2"))
    with TrtBackend(engine, cuda=CudaRuntime(cuda)) as backend:
        assert ("cudaMalloc", 32 * 48 * 4) in cuda.calls  # int32 labels: 4 bytes a pixel
        batch = images(1)
        labels = backend.infer(batch)
        assert labels.dtype == np.uint8 and np.array_equal(labels, batch[..., 0])


def test_every_cuda_error_is_reported_and_nothing_leaks(env):
    _, cuda, engine = env(fail={"cudaMallocHost": 2})
    with pytest.raises(EdgesegError, match=r"CUDA error 2 cudaErrorMemoryAllocation while allocating 4608 bytes of pinned host memory for 'image'"):
        TrtBackend(engine, cuda=CudaRuntime(cuda))
    assert cuda.device == set() and cuda.host == set()  # the device buffers already made were freed


def test_sidecar_mismatch_is_refused_before_loading(env, tmp_path):
    fake, _, engine = env()
    wrong_gpu = FakeCudaRuntime("NVIDIA GeForce RTX 4090", 8, 9)
    with pytest.raises(EdgesegError, match=r"built for GPU Orin .* this machine has NVIDIA GeForce RTX 4090 .*rebuild it here with: edgeseg build .*m0.onnx --target jetson-orin-nano -o"):
        TrtBackend(engine, cuda=CudaRuntime(wrong_gpu))
    newer = make_fake_tensorrt("10.4.0.26")
    sys.modules["tensorrt"] = newer
    with pytest.raises(EdgesegError, match=r"built with tensorrt 10.3.0.30 but this machine has 10.4.0.26.*edgeseg build"):
        TrtBackend(engine, cuda=CudaRuntime(FakeCudaRuntime()))
    sys.modules["tensorrt"] = fake
    engine.write_bytes(engine.read_bytes() + b"x")
    with pytest.raises(EdgesegError, match=r"does not match its sidecar .*changed or truncated.*edgeseg build"):
        TrtBackend(engine, cuda=CudaRuntime(FakeCudaRuntime()))
    assert not touched(fake, "deserialize_cuda_engine") and not touched(newer, "deserialize_cuda_engine")


def test_real_cuda_python_without_driver_gives_a_clear_message(env, capsys, tmp_path):
    try:
        real = CudaRuntime()
    except MissingDependencyError:
        pytest.skip("cuda-python is not installed")
    err = real.rt.cudaGetDeviceCount()[0]
    if int(err) == 0:
        pytest.skip("a CUDA driver is present here")
    _, _, engine = env()
    with pytest.raises(EdgesegError, match=r"CUDA is not usable here: no NVIDIA driver.*CUDA error 35 cudaErrorInsufficientDriver"):
        TrtBackend(engine)  # real cuda-python
    # auto picks the TensorRT backend for .engine; through the CLI: one message, no traceback
    with pytest.raises(EdgesegError, match="CUDA error 35"):
        open_backend(engine)
    code = main(["eval", str(engine), "--data", str(tmp_path)])
    err_text = capsys.readouterr().err
    assert code != 0 and "no NVIDIA driver" in err_text and "Traceback" not in err_text


def test_missing_engine_and_missing_tensorrt(tmp_path, monkeypatch):
    with pytest.raises(EdgesegError, match="does not exist"):
        TrtBackend(tmp_path / "none.engine")
    (tmp_path / "x.engine").write_bytes(b"plan")
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(EdgesegError, match="TensorRT's Python bindings, which are not installed here.*python3-libnvinfer"):
        TrtBackend(tmp_path / "x.engine")
