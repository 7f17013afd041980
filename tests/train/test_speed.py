"""Training speed work: fast augmentation, device-side normalisation, prefetching, the speed plan, compiled runs.

None of these may change what is trained beyond rounding; the throughput they
buy is measured in ``benchmarks/train_throughput.py``, not here.
"""

import json
import math
import threading

import numpy as np
import pytest
import torch
from helpers import ROOT, tiny_train_overrides

from edgeseg.cli import main
from edgeseg.config import load_config
from edgeseg.preprocess import normalize_image
from edgeseg.train.config import AugmentConfig, DataConfig, TrainConfig
from edgeseg.train.data.batches import model_input
from edgeseg.train.data.datasets import dataset_info, load_split
from edgeseg.train.data.prefetch import Prefetcher
from edgeseg.train.data.transforms import augment, augment_reference
from edgeseg.train.speed import plan_speed

CONFIG = ROOT / "configs" / "camvid_enet.toml"


@pytest.fixture(scope="module")
def sample_split(samples_dir):
    cfg = DataConfig(root=str(samples_dir))
    info = dataset_info(cfg)
    return load_split(cfg, "val", info, limit=8), info


@pytest.mark.parametrize("augment_cfg", [
    AugmentConfig(),  # the default: scale 0.75-1.5, crop the full 480x360, flip, jitter
    AugmentConfig(scale_min=0.4, scale_max=0.8, crop_height=200, crop_width=280),  # padding with void
    AugmentConfig(scale_min=1.2, scale_max=2.0, crop_height=264, crop_width=352, hflip=False),
])
def test_fast_augmentation_equals_the_reference_chain(sample_split, augment_cfg):
    """Same draws: the mask crop is exact; image pixels differ only by interpolation rounding."""
    split, info = sample_split
    for i, (image, mask) in enumerate(zip(split.images, split.masks)):
        fast_img, fast_mask = augment(image, mask, np.random.default_rng([3, 1, i]), augment_cfg, info.ignore_index)
        ref_img, ref_mask = augment_reference(image, mask, np.random.default_rng([3, 1, i]), augment_cfg,
                                              info.ignore_index)
        assert fast_img.shape == ref_img.shape and fast_img.dtype == np.uint8
        assert np.array_equal(fast_mask, ref_mask), f"image {i}: {np.mean(fast_mask != ref_mask):.4%} of labels differ"
        diff = np.abs(fast_img.astype(np.int16) - ref_img.astype(np.int16))
        # warpAffine interpolates at 1/32-pixel steps, resize at 1/2048: a few levels, amplified by the jitter's gain
        assert diff.max() <= 12 and diff.mean() < 0.6, (diff.max(), diff.mean())


def test_fast_augmentation_keeps_depth_out_of_the_colour_jitter():
    image = np.dstack([np.full((40, 60, 3), 100, np.uint8), np.full((40, 60), 77, np.uint8)])
    cfg = AugmentConfig(scale_min=1.0, scale_max=1.0, crop_height=40, crop_width=60, brightness=0.5)
    out, _ = augment(image, np.zeros((40, 60), np.uint8), np.random.default_rng(0), cfg, 255)
    assert out.shape == (40, 60, 4)
    assert (out[..., 3] == 77).all() and not (out[..., :3] == 100).all()


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("channels_last", [False, True])
def test_device_normalisation_equals_the_numpy_reference(channels, channels_last):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 24, 32, channels), dtype=np.uint8)
    mean, std = [100.0, 110.0, 120.0, 30.0][:channels], [60.0, 70.0, 80.0, 10.0][:channels]
    x = model_input(torch.from_numpy(images), mean, std, channels_last)
    assert x.shape == (3, channels, 24, 32) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    np.testing.assert_array_equal(x.numpy(), normalize_image(images, mean, std))


def test_prefetcher_yields_everything_in_order_and_reraises():
    assert list(Prefetcher(range(50), 3)) == list(range(50))
    assert list(Prefetcher(range(5), 0)) == list(range(5))

    def broken():
        yield 1
        raise ValueError("bad sample 7")

    with pytest.raises(ValueError, match="bad sample 7"):
        list(Prefetcher(broken(), 2))


def test_prefetcher_stops_its_thread_when_the_consumer_stops_early():
    before = threading.active_count()
    for item in Prefetcher(range(1000), 2):
        if item == 3:
            break
    assert threading.active_count() == before


def test_speed_plan_on_this_cpu():
    cfg = TrainConfig()
    plan = plan_speed(cfg, torch.device("cpu"))
    assert plan.compile and plan.interop_threads == 1
    # prefetch only with a core to spare beyond the intra-op threads (measured slower without one)
    import os

    assert plan.prefetch_batches == (2 if (os.cpu_count() or 1) > plan.threads else 0)
    assert plan_speed(TrainConfig(threads=1), torch.device("cpu")).prefetch_batches == (
        2 if (os.cpu_count() or 1) > 1 else 0)
    assert plan_speed(TrainConfig(prefetch_batches=3), torch.device("cpu")).prefetch_batches == 3
    has_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert plan.autocast_dtype == ("bf16" if has_bf16 else None) and not plan.grad_scaler
    assert not plan_speed(TrainConfig(amp=False), torch.device("cpu")).autocast_dtype
    assert plan_speed(TrainConfig(channels_last=True), torch.device("cpu")).channels_last
    ddrnet = TrainConfig()
    ddrnet.model.name = "ddrnet23_slim"
    assert plan_speed(ddrnet, torch.device("cpu")).channels_last  # measured faster for DDRNet (and LEDNet)
    assert any("bf16" in r or "FP32" in r for r in plan.reasons)
    assert plan.fused_optimizer and not plan_speed(TrainConfig(fused_optimizer=False), torch.device("cpu")).fused_optimizer


def test_fused_optimizer_steps_like_the_per_tensor_loop():
    """fused_optimizer is a speed key: the fused AdamW/SGD step equals torch's per-tensor loop (float32 rounding)."""
    from edgeseg.train.speed import make_optimizer

    for name in ("adamw", "sgd"):
        results = []
        for fused in (True, False):
            torch.manual_seed(0)
            net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Conv2d(8, 4, 1))
            cfg = TrainConfig(optimizer=name, fused_optimizer=fused)
            opt = make_optimizer(net.parameters(), cfg, plan_speed(cfg, torch.device("cpu")))
            assert bool(opt.defaults.get("fused")) is fused
            for step in range(3):
                opt.zero_grad()
                net(torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(step))).square().mean().backward()
                opt.step()
            results.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
        # Adam divides by sqrt(v) + eps: where a gradient is near zero, float32 rounding in another summation
        # order moves that parameter by up to ~1e-4 of the lr-sized step (seen: 5.2e-5 on a clean clone);
        # a wrong update (no weight decay, no bias correction, a skipped step) moves parameters by ~lr (2e-3 by default).
        torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=2e-4)


def test_compiled_forward_and_loss_equal_the_eager_ones():
    """torch.compile over model + loss (the trainer's step) gives the eager loss and gradients, aux output included.

    A small net keeps the compile short; on ENet the relative gradient difference
    is 0.46 % for the compiled forward + loss and the same for the model compiled
    alone (Inductor's reduction order in batch norm), so the fusion adds nothing.
    """
    from torch import nn

    from edgeseg.train.aux_loss import segmentation_loss_sum
    from edgeseg.train.step_loss import ForwardLoss

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.PReLU(8))
            self.main, self.aux = nn.Conv2d(8, 5, 1), nn.Conv2d(8, 5, 1, stride=2)

        def forward(self, x):
            h = self.body(x)
            return self.main(h), self.aux(h)  # aux at half resolution: resized in the loss

    torch.manual_seed(0)
    model = TwoHeads()
    weight = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0])
    x = torch.randn(2, 3, 32, 48)
    y = torch.randint(0, 6, (2, 32, 48))  # 5 = ignore_index
    results = []
    for compile_ in (False, True):
        step = ForwardLoss(model, lambda outputs, y: segmentation_loss_sum(outputs, y, weight, 5, 0.4), "cpu", None)
        step = torch.compile(step, dynamic=False) if compile_ else step
        model.zero_grad()
        total, norm = step(x, y)
        (total / norm).backward()
        results.append((float(total / norm), torch.cat([p.grad.flatten() for p in model.parameters()])))
    (loss_eager, grad_eager), (loss_compiled, grad_compiled) = results
    assert loss_compiled == pytest.approx(loss_eager, rel=1e-5)
    assert float((grad_compiled - grad_eager).norm() / grad_eager.norm()) < 1e-4

def test_speed_keys_are_checked(tmp_path):
    from edgeseg.errors import EdgesegError

    with pytest.raises(EdgesegError, match=r"amp_dtype.*'int4' is not one of"):
        load_config(CONFIG, TrainConfig, ['amp_dtype="int4"'])
    with pytest.raises(EdgesegError, match="channels_last"):
        load_config(CONFIG, TrainConfig, ['channels_last="maybe"'])


def test_compiled_bf16_run_resumes_exactly_and_its_checkpoint_exports_and_evaluates(tmp_path, samples_dir):
    """The trainer's new defaults (compile, bf16 on this CPU, fast augmentation, prefetch): resume is exact,
    and the compiled run's checkpoint is an ordinary one (loads, exports, scores the same in onnxruntime)."""
    from edgeseg.export.onnx_from_torch import export_checkpoint
    from edgeseg.metrics import scores_from_confusion
    from edgeseg.runtime.backends import open_backend
    from edgeseg.runtime.eval import evaluate
    from edgeseg.train.checkpoint import load_checkpoint
    from edgeseg.train.trainer import train

    cfg = load_config(CONFIG, TrainConfig, tiny_train_overrides(epochs=2, compile=True))
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "sliced", progress=False, stop_after=1)
    train(cfg, tmp_path / "sliced", progress=False, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "sliced" / "last.pt")
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=1e-6, msg=key)
    record = json.loads((tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["speed"]["compile"] is True
    assert not any(k.startswith("_orig_mod.") for k in a["model"])  # weights of the module, not the wrapper

    onnx_path = tmp_path / "m.onnx"
    export_checkpoint(tmp_path / "straight" / "last.pt", onnx_path)  # raises if parity fails
    scores = []
    for artifact in (tmp_path / "straight" / "last.pt", onnx_path):
        backend = open_backend(artifact)
        try:
            scores.append(scores_from_confusion(evaluate(backend, samples_dir, "val", limit=4).confusion).miou)
        finally:
            backend.close()
    assert abs(scores[0] - scores[1]) < 1e-3, scores


def test_drive_prefixes_select_samples_and_an_unknown_prefix_is_named(samples_dir):
    from edgeseg.errors import EdgesegError

    cfg = DataConfig(root=str(samples_dir))
    info = dataset_info(cfg)
    names = [p.image.name for p in load_split(cfg, "val", info).paths]
    prefix = names[0][:6]
    kept = load_split(cfg, "val", info, prefixes=[prefix]).paths
    assert kept and all(p.image.name.startswith(prefix) for p in kept)
    with pytest.raises(EdgesegError, match=r"no image of split 'val'.* starts with 9999XX; names there start with"):
        load_split(cfg, "val", info, prefixes=["9999XX"])


def test_publish_refuses_a_checkpoint_that_is_not_the_last_epoch_of_its_schedule(tmp_path):
    import subprocess
    import sys

    from edgeseg.train.trainer import train

    cfg = load_config(CONFIG, TrainConfig, tiny_train_overrides(epochs=2))
    train(cfg, tmp_path / "run", progress=False, stop_after=1)  # epoch 1 of 2: unfinished
    script = ROOT / "scripts" / "publish_checkpoint.py"
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "run" / "last.pt"), str(tmp_path / "m.pt")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "epoch 1 of a 2-epoch schedule" in result.stderr
    assert not (tmp_path / "m.pt").exists()
    train(cfg, tmp_path / "run", progress=False, resume=True)
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "run" / "last.pt"), str(tmp_path / "m.pt")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.pt").is_file()


def test_a_split_decoded_on_access_gives_the_same_samples_as_one_in_memory(samples_dir):
    from edgeseg.train.data.datasets import EvalDataset, TrainDataset

    memory_cfg = DataConfig(root=str(samples_dir), cache="memory", height=96, width=128)
    disk_cfg = DataConfig(root=str(samples_dir), cache="disk", height=96, width=128)
    info = dataset_info(memory_cfg)
    in_memory, on_disk = load_split(memory_cfg, "val", info, limit=3), load_split(disk_cfg, "val", info, limit=3)
    assert in_memory.in_memory and not on_disk.in_memory and isinstance(in_memory.images, list)
    augment_cfg = AugmentConfig(crop_height=64, crop_width=64)
    for a, b in zip(TrainDataset(in_memory, augment_cfg, memory_cfg, 11, 0), TrainDataset(on_disk, augment_cfg, disk_cfg, 11, 0)):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for a, b in zip(EvalDataset(in_memory, memory_cfg), EvalDataset(on_disk, disk_cfg)):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_with_compile_amp_and_channels_last_learns_and_resumes(tmp_path):
    """The speed keys on CUDA: bf16 (or fp16 with a scaler) autocast, channels-last, compile; resume within
    float noise (cuDNN's algorithms are not bitwise deterministic across processes)."""
    from edgeseg.train.checkpoint import load_checkpoint
    from edgeseg.train.trainer import train

    cfg = load_config(CONFIG, TrainConfig, tiny_train_overrides(epochs=3, compile=True, device="cuda", threads=0))
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "sliced", progress=False, stop_after=1)
    train(cfg, tmp_path / "sliced", progress=False, resume=True)
    lines = [json.loads(x) for x in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    speed = lines[-1]["speed"]
    assert speed["compile"] and speed["channels_last"] and speed["autocast_dtype"] in ("bf16", "fp16")
    assert lines[-1]["loss"] < lines[0]["loss"]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "sliced" / "last.pt")["model"]
    for key in a:
        torch.testing.assert_close(b[key].float(), a[key].float(), rtol=1e-2, atol=1e-2, msg=key)


def _raise_from_generated_code():
    """Raise UnboundLocalError from a function whose file is where Inductor writes the code it generates."""
    namespace: dict = {}
    exec(compile("def call():\n    return buf1\n    buf1 = 0\n", "/tmp/torchinductor_test/qq/cqq.py", "exec"), namespace)
    namespace["call"]()


class _MiscompiledBackward(torch.autograd.Function):
    """Identity forward; a backward that fails the way the miscompiled CRF-as-RNN graph of torch 2.13 did."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        _raise_from_generated_code()


def test_errors_of_generated_code_count_as_compile_failures_and_model_errors_do_not():
    from edgeseg.train.trainer import _is_compile_failure

    with pytest.raises(UnboundLocalError) as generated:
        _raise_from_generated_code()
    assert _is_compile_failure(generated.value)
    with pytest.raises(ValueError) as model_error:
        raise ValueError("a shape error of the model itself")
    assert not _is_compile_failure(model_error.value)


def test_a_compiled_backward_that_fails_is_redone_eagerly_and_training_goes_on(tmp_path, monkeypatch, caplog):
    from edgeseg.train import trainer

    class Miscompiled(torch.nn.Module):  # stands in for torch.compile's module: same forward, failing backward
        def __init__(self, step):
            super().__init__()
            self.step = step

        def forward(self, x, targets):
            loss_sum, norm = self.step(x, targets)
            return _MiscompiledBackward.apply(loss_sum), norm

    monkeypatch.setattr(trainer, "compiled", Miscompiled)
    out = tmp_path / "run"
    with caplog.at_level("WARNING", logger="edgeseg.train"):
        assert main(["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(out), "--no-progress",
                     *sum((["--set", o] for o in tiny_train_overrides(epochs=1, compile=True)), [])]) == 0
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 1 and math.isfinite(record["loss"]) and record["speed"]["compile"] is False
    assert "torch.compile's backward failed for this model (UnboundLocalError" in caplog.text
