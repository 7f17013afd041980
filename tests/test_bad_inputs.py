"""The catalogue of bad inputs (issue 8): one table, one test per row.

Each :class:`Case` makes a bad input under ``tmp_path``, runs ``edgeseg ...``
through :func:`edgeseg.cli.main` (in-process: an exception other than
:class:`EdgesegError` would escape ``main`` and fail the test, which is what a
traceback on the terminal would be), and asserts: a non-zero exit code equal
to the case's, the expected message on stderr (what, where and how to fix),
no "Traceback" on stderr, no file under the final output names, and every
input byte-identical afterwards (sha256 of every file under ``tmp_path`` and
of the repository files the cases read, before and after the command).
``test_debug_shows_a_traceback`` runs real subprocesses for the terminal view.

Real parts everywhere (onnxruntime, OpenCV/FFmpeg, torch.load, real files); the
only fakes are TensorRT and the CUDA runtime (tests/fakes/), for the engine
rows, and the full disk (``os.fsync`` raising ENOSPC), which cannot be had
for real without root-only mounts. ``docs/bad_inputs.md`` is generated from
:data:`CASES` by ``scripts/bad_inputs_table.py``.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"
CHECKPOINT = ROOT / "models" / "camvid_enet.pt"
CONFIG = ROOT / "configs" / "camvid_enet.toml"


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        name: test id.
        what: the bad input, in words (for docs/bad_inputs.md).
        where: the command that meets it.
        make: builds the input under the folder it gets and returns the argv
            after ``edgeseg``; it may also use the :class:`Env` it gets.
        message: a substring of the expected error; ``{tmp}`` is the folder.
        code: the expected exit code.
        absent: files (relative to the folder) that must not exist afterwards.
        fault: the case injects a fault (full disk) rather than a bad file.
    """

    name: str
    what: str
    where: str
    make: Callable[[Env], list[str]]
    message: str
    code: int = 2
    absent: tuple[str, ...] = ()
    fault: bool = False


@dataclass
class Env:
    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    def p(self, name: str) -> str:
        return str(self.tmp / name)

    def write(self, name: str, data: bytes) -> str:
        (self.tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (self.tmp / name).write_bytes(data)
        return self.p(name)

    def onnx(self, name: str = "model.onnx", **kwargs) -> str:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers import make_contract_onnx

        make_contract_onnx(self.tmp / name, **kwargs)
        return self.p(name)


# ----- input makers (each returns the argv) -----

def _run_argv(env: Env, model: str, source: str | None = None, sink: str = "out.mp4") -> list[str]:
    return ["run", model, "--source", source or str(VIDEO), "--sink", sink if sink.startswith("/") else env.p(sink),
            "--max-frames", "3"]


def _export(env: Env, ckpt: str) -> list[str]:
    return ["export", ckpt, "-o", env.p("out.onnx")]


def _truncated_checkpoint(env: Env) -> list[str]:
    data = CHECKPOINT.read_bytes()
    return _export(env, env.write("half.pt", data[: len(data) // 2]))


def _onnx_with_metadata(env: Env, mutate: Callable[[dict], None]) -> str:
    import json

    import onnx

    path = env.onnx()
    model = onnx.load(path)
    prop = next(p for p in model.metadata_props if p.key == "edgeseg")
    meta = json.loads(prop.value)
    mutate(meta)
    prop.value = json.dumps(meta)
    onnx.save(model, path)
    return path


def _foreign_onnx(env: Env) -> str:
    """A valid ONNX whose I/O is not the contract (float input 'x') and which has no metadata."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 48])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 48])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, env.p("foreign.onnx"))
    return env.p("foreign.onnx")


def _video_bytes(env: Env, name: str, data: bytes) -> list[str]:
    return _run_argv(env, env.onnx(), env.write(name, data))


def _engine(env: Env, *, run_version: str = "10.3.0.30", run_gpu: tuple[str, int, int] = ("Orin", 8, 7),
            alter: Callable[[Path], None] | None = None) -> list[str]:
    """Build an engine with a FAKE TensorRT 10.3 for an Orin, then run it where the fakes say ``run_*``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.fake_cuda import FakeCudaRuntime
    from fakes.fake_tensorrt import make_fake_tensorrt

    from edgeseg.cuda_rt import CudaRuntime, GpuInfo
    from edgeseg.engines.build import build
    from edgeseg.engines.targets import get_target
    from edgeseg.runtime.backends import trt as trt_backend

    env.monkeypatch.setenv("EDGESEG_CACHE_DIR", env.p("cache"))
    env.monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt("10.3.0.30"))
    result = build(Path(env.onnx()), get_target("jetson-orin-nano"), env.tmp / "engines",
                   gpu_probe=lambda: GpuInfo("Orin", "8.7"))
    env.monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt(run_version))
    env.monkeypatch.setattr(trt_backend, "CudaRuntime", lambda: CudaRuntime(FakeCudaRuntime(*run_gpu)))
    if alter is not None:
        alter(Path(result.artifact))
    return _run_argv(env, str(result.artifact))


def _cpu_artifact(env: Env, alter: Callable[[Path], None]) -> list[str]:
    """Build the cpu target (real onnxruntime artifact + sidecar), then damage it."""
    from edgeseg.engines.build import build
    from edgeseg.engines.targets import get_target

    env.monkeypatch.setenv("EDGESEG_CACHE_DIR", env.p("cache"))
    result = build(Path(env.onnx()), get_target("cpu"), env.tmp / "built", backend="onnxruntime")
    alter(Path(result.artifact))
    return _run_argv(env, str(result.artifact))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _dataset(env: Env, *, mask: Callable[[object], object] | None = None, drop_mask: bool = False) -> list[str]:
    """A folder data set (classes.txt with 3 classes, 32x48 images) with one bad mask."""
    import cv2
    import numpy as np

    root = env.tmp / "data"
    (root / "images" / "val").mkdir(parents=True)
    (root / "masks" / "val").mkdir(parents=True)
    (root / "classes.txt").write_text("road\nsky\ncar\n")
    rng = np.random.default_rng(0)
    for stem in ("a", "b"):
        cv2.imwrite(str(root / "images" / "val" / f"{stem}.png"), rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
        labels = rng.integers(0, 3, (32, 48), dtype=np.uint8)
        if stem == "b" and mask is not None:
            labels = mask(labels)
        if not (stem == "b" and drop_mask):
            cv2.imwrite(str(root / "masks" / "val" / f"{stem}.png"), labels)
    return ["eval", env.onnx(), "--data", str(root), "--json", env.p("scores.json")]


def _calibration(env: Env) -> list[str]:
    calib = env.tmp / "calib"
    calib.mkdir()
    (calib / "empty.jpg").write_bytes(b"")
    (calib / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"cut short")
    return ["quantize", env.onnx(), "--precision", "int8", "--calib", str(calib), "-o", env.p("int8.onnx")]


def _disk_full(env: Env) -> list[str]:
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    model = env.onnx()
    env.monkeypatch.setenv("EDGESEG_CACHE_DIR", env.p("cache"))
    env.monkeypatch.setattr(os, "fsync", full)
    return ["build", model, "--target", "cpu", "-o", env.p("built")]


def _disk_full_eval_json(env: Env) -> list[str]:
    """A good data set and model; the disk fills while the scores JSON is written."""
    argv = _dataset(env)

    def full(fd):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    env.monkeypatch.setattr(os, "fsync", full)
    return argv


def _train(env: Env, *sets: str) -> list[str]:
    argv = ["train", str(CONFIG), "--out", env.p("run")]
    for s in sets:
        argv += ["--set", s]
    return argv


CASES: list[Case] = [
    # checkpoints
    Case("checkpoint_missing", "checkpoint file that does not exist", "export",
         lambda e: _export(e, e.p("missing.pt")), "missing.pt does not exist", absent=("out.onnx",)),
    Case("checkpoint_empty", "checkpoint of 0 bytes", "export",
         lambda e: _export(e, e.write("empty.pt", b"")), "is empty (0 bytes); an interrupted copy? re-copy or re-train it",
         absent=("out.onnx",)),
    Case("checkpoint_truncated", "checkpoint cut to half its size", "export", _truncated_checkpoint,
         "the file is truncated, corrupt or not a PyTorch checkpoint", absent=("out.onnx",)),
    Case("checkpoint_corrupt", "checkpoint of random bytes", "info",
         lambda e: ["info", e.write("junk.pt", os.urandom(4096))], "the file is truncated, corrupt or not a PyTorch checkpoint"),
    # ONNX
    Case("onnx_missing", "ONNX file that does not exist", "build --target cpu",
         lambda e: ["build", e.p("missing.onnx"), "--target", "cpu", "-o", e.p("built")], "missing.onnx does not exist",
         absent=("built",)),
    Case("onnx_empty", "ONNX of 0 bytes", "run",
         lambda e: _run_argv(e, e.write("empty.onnx", b"")), "is empty (0 bytes)", absent=("out.mp4",)),
    Case("onnx_truncated", "ONNX cut to 300 bytes", "build --target cpu",
         lambda e: ["build", e.write("cut.onnx", Path(e.onnx()).read_bytes()[:300]), "--target", "cpu", "-o", e.p("built")],
         "cut.onnx is not a readable ONNX file", absent=("built/cut.cpu.onnx",)),
    Case("onnx_corrupt", "ONNX of garbage bytes", "quantize --precision fp16",
         lambda e: ["quantize", e.write("junk.onnx", b"\x08\x01garbage" * 50), "--precision", "fp16", "-o", e.p("fp16.onnx")],
         "junk.onnx is not an ONNX model", absent=("fp16.onnx",)),
    Case("onnx_no_metadata_foreign_io", "ONNX without edgeseg metadata whose I/O is not the contract (float 'x' in)",
         "run", lambda e: _run_argv(e, _foreign_onnx(e)),
         "has no edgeseg metadata (metadata_props key 'edgeseg') and its contract cannot be inferred: missing an input "
         "named 'image'", absent=("out.mp4",)),
    Case("onnx_metadata_newer_schema", "ONNX whose metadata has schema_version 99", "run",
         lambda e: _run_argv(e, _onnx_with_metadata(e, lambda m: m.update(schema_version=99))),
         "metadata schema version 99 is newer than this edgeseg", absent=("out.mp4",)),
    Case("onnx_metadata_wrong_palette", "ONNX whose metadata has fewer colours than classes", "run",
         lambda e: _run_argv(e, _onnx_with_metadata(e, lambda m: m.update(palette=m["palette"][:1]))),
         "palette must have one colour per class (3)", absent=("out.mp4",)),
    # engines (FAKE TensorRT and CUDA) and the cpu target's artifact (real onnxruntime)
    Case("engine_missing", "engine file that does not exist", "run",
         lambda e: _run_argv(e, e.p("none.engine")), "none.engine does not exist", absent=("out.mp4",)),
    Case("engine_truncated", "engine cut to half its size after the build", "run",
         lambda e: _engine(e, alter=_truncate), "does not match its sidecar", absent=("out.mp4",)),
    Case("engine_bytes_changed", "engine with one byte changed (same size): hash differs from the sidecar", "run",
         lambda e: _engine(e, alter=_flip_last_byte),
         "the file was changed or truncated after the build; rebuild it with: edgeseg build", absent=("out.mp4",)),
    Case("engine_sidecar_missing", "engine without its .json sidecar", "run",
         lambda e: _engine(e, alter=lambda p: _sidecar(p).unlink()), "has no sidecar", absent=("out.mp4",)),
    Case("engine_sidecar_corrupt", "engine whose sidecar is not JSON", "run",
         lambda e: _engine(e, alter=lambda p: _sidecar(p).write_text("{not json")), "is not valid JSON",
         absent=("out.mp4",)),
    Case("engine_other_tensorrt", "engine built with TensorRT 10.3 loaded by TensorRT 10.4", "run",
         lambda e: _engine(e, run_version="10.4.0.26"),
         "was built with tensorrt 10.3.0.30 but this machine has 10.4.0.26", absent=("out.mp4",)),
    Case("engine_other_gpu", "engine built for an Orin loaded on an RTX 4090", "run",
         lambda e: _engine(e, run_gpu=("NVIDIA GeForce RTX 4090", 8, 9)),
         "was built for GPU Orin (compute capability 8.7) but this machine has NVIDIA GeForce RTX 4090",
         absent=("out.mp4",)),
    Case("cpu_artifact_truncated", "cpu-target optimised ONNX cut short after the build", "run",
         lambda e: _cpu_artifact(e, _truncate), "does not match its sidecar", absent=("out.mp4",)),
    Case("cpu_artifact_sidecar_wrong_type", "cpu-target sidecar with schema_version \"1\" (a string)", "run",
         lambda e: _cpu_artifact(e, lambda p: _sidecar(p).write_text(
             _sidecar(p).read_text().replace('"schema_version": 1', '"schema_version": "1"'))),
         "schema_version must be an integer", absent=("out.mp4",)),
    # video
    Case("video_missing", "source video that does not exist", "run",
         lambda e: _run_argv(e, e.onnx(), e.p("none.mp4")), "none.mp4 does not exist", absent=("out.mp4",)),
    Case("video_empty", "source video of 0 bytes", "run",
         lambda e: _video_bytes(e, "empty.mp4", b""), "is empty (0 bytes)", absent=("out.mp4",)),
    Case("video_truncated", "source video cut to its first 30 kB (no moov atom)", "run",
         lambda e: _video_bytes(e, "cut.mp4", VIDEO.read_bytes()[:30000]),
         "the file is damaged or not a video OpenCV's FFmpeg can decode", absent=("out.mp4",)),
    Case("video_corrupt", "source .mp4 of garbage bytes", "run",
         lambda e: _video_bytes(e, "junk.mp4", b"garbage" * 100), "cannot open video file", absent=("out.mp4",)),
    Case("source_unreachable_stream", "RTSP source nobody serves (127.0.0.1:1)", "run",
         lambda e: _run_argv(e, e.onnx(), "rtsp://127.0.0.1:1/live"),
         "cannot open stream rtsp://127.0.0.1:1/live: check the address, that the server is up", absent=("out.mp4",)),
    # sinks
    Case("sink_folder_missing", "sink in a folder that does not exist", "run",
         lambda e: _run_argv(e, e.onnx(), sink=e.p("nope/out.mp4")), "folder {tmp}/nope does not exist; create it",
         absent=("nope",)),
    Case("sink_under_a_file", "sink under a regular file (not writable even as root)", "run",
         lambda e: _run_argv(e, e.onnx(), sink=e.write("file.txt", b"x") + "/out.mp4"), "file.txt is not a folder",
         absent=("out.mp4",)),
    # configs
    Case("config_unknown_key", "config override of an unknown key", "train",
         lambda e: _train(e, "epochz=3"), "--set: config: unknown key 'epochz'; valid keys here: epochs, batch_size",
         absent=("run/last.pt",)),
    Case("config_unknown_nested_key", "config override of an unknown nested key", "train",
         lambda e: _train(e, "data.rot=x"), "--set: data: unknown key 'data.rot'; valid keys here: kind, root",
         absent=("run/last.pt",)),
    Case("config_wrong_type", "config value of the wrong type (lr=\"fast\")", "train",
         lambda e: _train(e, 'lr="fast"'), "--set: lr: expected a number, got 'fast'", absent=("run/last.pt",)),
    Case("config_file_unknown_key", "TOML config file with an unknown key", "train",
         lambda e: ["train", e.write("bad.toml", b"mystery = 1\n" + CONFIG.read_bytes()), "--out", e.p("run")],
         "{tmp}/bad.toml: config: unknown key 'mystery'", absent=("run/last.pt",)),
    # data sets
    Case("dataset_missing_mask", "folder data set with an image that has no mask", "eval",
         lambda e: _dataset(e, drop_mask=True), "1 image(s) in {tmp}/data/images/val have no mask of the same name",
         absent=("scores.json",)),
    Case("dataset_mask_wrong_size", "folder data set with a mask of the wrong size", "eval",
         lambda e: _dataset(e, mask=lambda m: m[:16]), "is 48x16 but its image is 48x32; masks must have the image's size",
         absent=("scores.json",)),
    Case("dataset_label_above_classes", "folder data set with label 7 in a 3-class mask", "eval",
         lambda e: _dataset(e, mask=lambda m: m * 0 + 7), "has label values [7] but the data set has 3 classes",
         absent=("scores.json",)),
    Case("dataset_classes_not_utf8", "classes.txt that is not UTF-8", "eval",
         lambda e: _write_after(_dataset(e), e.tmp / "data" / "classes.txt", b"r\xf6ad\n"),
         "is not UTF-8 text", absent=("scores.json",)),
    Case("calibration_unreadable_image", "calibration folder whose images are all unreadable (a readable one among them is used, "
         "with a warning naming each skipped file)", "quantize --precision int8",
         _calibration, "holds no readable image (2 file(s) could not be decoded); re-copy the images", absent=("int8.onnx",)),
    # depth (RGB-D models: edgeseg run --source COLOUR --depth DEPTH)
    Case("depth_not_given", "RGB-D (4-channel) model run without --depth", "run",
         lambda e: _run_argv(e, e.onnx(channels=4)), "this model takes BGR + depth: pass --depth DEPTH.mp4",
         absent=("out.mp4",)),
    Case("depth_with_bgr_model", "--depth given for a BGR (3-channel) model", "run",
         lambda e: [*_run_argv(e, e.onnx()), "--depth", e.p("depth.mp4")],
         "--depth is for RGB-D models (4 input channels); {tmp}/model.onnx (tiny_conv1x1) takes BGR only: drop --depth",
         absent=("out.mp4",)),
    Case("depth_video_missing", "depth video that does not exist", "run",
         lambda e: [*_run_argv(e, e.onnx(channels=4)), "--depth", e.p("none.mp4")],
         "depth video {tmp}/none.mp4 does not exist", absent=("out.mp4",)),
    Case("depth_video_corrupt", "depth .mp4 of garbage bytes", "run",
         lambda e: [*_run_argv(e, e.onnx(channels=4)), "--depth", e.write("junk.mp4", b"garbage" * 100)],
         "cannot open depth video {tmp}/junk.mp4: not a video OpenCV can decode", absent=("out.mp4",)),
    # faults
    Case("disk_full_during_build", "disk full while writing the built artifact (os.fsync raises ENOSPC)",
         "build --target cpu", _disk_full, "No space left on device on the file system of {tmp}/built; free some space",
         absent=("built/model.cpu.onnx", "built/model.cpu.onnx.json", "built/model.cpu.blob", "built/model.cpu.blob.json"),
         fault=True),
    Case("disk_full_during_eval_json", "quota exceeded while writing eval's --json (os.fsync raises EDQUOT)", "eval",
         _disk_full_eval_json, "cannot write {tmp}/scores.json: Disk quota exceeded on the file system of {tmp}",
         absent=("scores.json",), fault=True),
    # proposal models (DeepMask, SharpMask)
    Case("onnx_metadata_proposals_without_window", "ONNX whose metadata says task 'proposals' but has no window size",
         "run", lambda e: _run_argv(e, _onnx_with_metadata(e, lambda m: m.update(task="proposals"))),
         "a proposals model needs arch_args.window as a positive integer (pixels)", absent=("out.mp4",)),
    Case("onnx_proposals_metadata_on_a_labels_graph",
         "ONNX whose metadata says task 'proposals' (window 32) but whose graph is image -> labels", "run",
         lambda e: _run_argv(e, _onnx_with_metadata(
             e, lambda m: m.update(task="proposals", arch_args={"window": 32, "stride": 16}))),
         "a proposals model takes 'windows' uint8 K x 32 x 32 x 3 (the metadata's window), found inputs ['image']",
         absent=("out.mp4",)),
]


# ----- issue 13: nothing lost (outputs over inputs, values, output folders, resume, divergence) -----

def _copy(env: Env, source: Path, name: str) -> str:
    return env.write(name, source.read_bytes())


def _link(env: Env, target: str, name: str, *, hard: bool = False) -> str:
    (os.link if hard else os.symlink)(target, env.p(name))
    return env.p(name)


def _tiny_sets(**extra) -> list[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import tiny_train_overrides

    return sum((["--set", o] for o in tiny_train_overrides(**extra)), [])


def _recorded_run(env: Env) -> str:
    """A run folder as 'edgeseg train' leaves it after one epoch of 5 (config.json of the tiny config, a last.pt),
    made without training: --resume checks the config before it trains."""
    import json

    from edgeseg.config import config_to_dict, load_config
    from edgeseg.train.config import TrainConfig

    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import tiny_train_overrides

    run = env.tmp / "run"
    run.mkdir()
    cfg = load_config(CONFIG, TrainConfig, tiny_train_overrides(epochs=5))
    (run / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=2))
    (run / "last.pt").write_bytes(CHECKPOINT.read_bytes())  # epoch 1 < 5: not finished
    return str(run)


def _resume(env: Env, *sets: str, **extra) -> list[str]:
    run = _recorded_run(env)
    return ["train", str(CONFIG), *_tiny_sets(epochs=5, **extra), *sets, "--out", run, "--resume", "--no-progress"]


def _resume_without_config(env: Env) -> list[str]:
    argv = _resume(env)
    (env.tmp / "run" / "config.json").unlink()
    return argv


def _mkdir(env: Env, name: str) -> str:
    (env.tmp / name).mkdir()
    return env.p(name)


def _train_into_the_data(env: Env) -> list[str]:
    _dataset(env)
    return [*_train(env), *_tiny_sets(), "--set", f'data.root="{env.tmp / "data"}"', "--out", env.p("data")]


def _diverging_run(env: Env) -> list[str]:
    """Train 1 epoch of 2 for real (a few seconds), then resume it with lr 1e30."""
    from edgeseg.cli import main

    run = env.p("run")
    assert main(["train", str(CONFIG), *_tiny_sets(epochs=2), "--out", run, "--stop-after", "1", "--no-progress"]) == 0
    return ["train", str(CONFIG), *_tiny_sets(epochs=2, lr=1e30), "--out", run, "--resume", "--allow-changes",
            "--no-progress"]


def _non_finite_checkpoint(env: Env) -> list[str]:
    import torch

    ckpt = torch.load(CHECKPOINT, weights_only=True)
    name = next(k for k, v in ckpt["model"].items() if v.is_floating_point() and k.endswith("weight"))
    ckpt["model"][name].view(-1)[0] = float("inf")
    torch.save(ckpt, env.p("diverged.pt"))
    return _export(env, env.p("diverged.pt"))


def _onnx_two_default_opsets(env: Env) -> list[str]:
    import onnx

    path = env.onnx()
    model = onnx.load(path)
    model.opset_import.append(onnx.helper.make_opsetid("ai.onnx", 13))
    onnx.save(model, path)
    return ["quantize", path, "--precision", "fp16", "-o", env.p("fp16.onnx")]


def _bench(env: Env, *flags: str) -> list[str]:
    return ["bench", env.onnx(), "--min-iters", "1", "--min-time-s", "0", "--warmup-s", "0", *flags]


NOTHING_LOST: list[Case] = [
    # outputs that are an input (the issue's two data-loss cases first)
    Case("overwrite_sink_is_the_source", "run --sink naming the --source video (the issue's 40-frame clip)", "run",
         lambda e: _run_argv(e, e.onnx(), _copy(e, VIDEO, "clip.mp4"), "clip.mp4"),
         "--sink {tmp}/clip.mp4 is the same file as --source {tmp}/clip.mp4: writing it would destroy the input"),
    Case("overwrite_export_output_is_the_checkpoint", "export -o naming the checkpoint it reads", "export",
         lambda e: ["export", _copy(e, CHECKPOINT, "ck.pt"), "-o", e.p("ck.pt")],
         "-o {tmp}/ck.pt is the same file as checkpoint {tmp}/ck.pt: writing it would destroy the input"),
    Case("overwrite_sink_symlink_to_source", "run --sink that is a symbolic link to the --source video", "run",
         lambda e: _run_argv(e, e.onnx(), _copy(e, VIDEO, "clip.mp4"), _link(e, e.p("clip.mp4"), "link.mp4")),
         "--sink {tmp}/link.mp4 is the same file as --source {tmp}/clip.mp4 (through a symbolic link)"),
    Case("overwrite_export_output_hard_link", "export -o naming a hard link of the checkpoint", "export",
         lambda e: ["export", _copy(e, CHECKPOINT, "ck.pt"), "-o", _link(e, e.p("ck.pt"), "same.pt", hard=True)],
         "-o {tmp}/same.pt is the same file as checkpoint {tmp}/ck.pt (a hard link to it)"),
    Case("overwrite_quantize_dotdot_spelling", "quantize -o spelled sub/../model.onnx for its own model", "quantize --precision fp16",
         lambda e: ["quantize", e.onnx(), "--precision", "fp16", "-o", _mkdir(e, "sub") + "/../model.onnx"],
         "-o {tmp}/sub/../model.onnx is the same file as model {tmp}/model.onnx"),
    Case("overwrite_eval_json_is_the_model", "eval --json naming the model it scores", "eval",
         lambda e: [*_dataset(e)[:-2], "--json", e.p("model.onnx")],
         "--json {tmp}/model.onnx is the same file as artifact {tmp}/model.onnx"),
    Case("overwrite_eval_overlays_into_the_data", "eval --overlay-dir inside the data set (overlays would replace its images)",
         "eval", lambda e: [*_dataset(e), "--overlay-dir", e.p("data/images/val")],
         "--overlay-dir {tmp}/data/images/val is inside --data {tmp}/data, which this command reads"),
    Case("overwrite_compare_json_is_model_b", "compare --json naming artifact B", "compare",
         lambda e: ["compare", e.onnx("a.onnx"), e.onnx("b.onnx", seed=1), "--data", str(ROOT / "samples" / "camvid"),
                    "--json", e.p("b.onnx")], "--json {tmp}/b.onnx is the same file as b {tmp}/b.onnx"),
    Case("overwrite_bench_baseline_is_the_check", "bench --save-baseline naming the --check baseline it compares with",
         "bench", lambda e: _bench(e, "--check", e.write("base.json", b"{}"), "--save-baseline", e.p("base.json")),
         "--save-baseline {tmp}/base.json is the same file as --check {tmp}/base.json"),
    Case("overwrite_run_stats_is_the_sidecar", "run --stats naming the cpu artifact's .json sidecar (found while testing)",
         "run", lambda e: [*_cpu_artifact(e, lambda p: None), "--stats", e.p("built/model.cpu.onnx.json")],
         "--stats {tmp}/built/model.cpu.onnx.json is the same file as artifact's sidecar"),
    Case("overwrite_train_out_is_the_data", "train --out naming the data set's folder", "train",
         _train_into_the_data,
         "--out {tmp}/data is the same folder as data.root {tmp}/data"),
    Case("outputs_collide_two_sinks", "run with the same --sink twice (the second would replace the first)", "run",
         lambda e: [*_run_argv(e, e.onnx()), "--sink", e.p("out.mp4")],
         "--sink {tmp}/out.mp4 and --sink {tmp}/out.mp4 name the same file", absent=("out.mp4",)),
    Case("outputs_collide_bench_json_and_plot", "bench --json and --plot naming one file", "bench",
         lambda e: _bench(e, "--json", e.p("r.png"), "--plot", e.p("r.png")),
         "--json {tmp}/r.png and --plot {tmp}/r.png name the same file", absent=("r.png",)),
    # output folders: the parent of every output must exist (never created); build -o is a folder
    Case("output_folder_missing_export", "export -o in a folder that does not exist", "export",
         lambda e: ["export", str(CHECKPOINT), "-o", e.p("nope/out.onnx")],
         "-o {tmp}/nope/out.onnx: folder {tmp}/nope does not exist; create it first", absent=("nope",)),
    Case("output_folder_missing_build", "build -o whose parent folder does not exist", "build --target cpu",
         lambda e: ["build", e.onnx(), "--target", "cpu", "-o", e.p("a/b")],
         "-o {tmp}/a/b: folder {tmp}/a does not exist; create it first", absent=("a",)),
    Case("output_folder_missing_train", "train --out whose parent folder does not exist", "train",
         lambda e: [*_train(e), "--out", e.p("runs/x")], "--out {tmp}/runs/x: folder {tmp}/runs does not exist",
         absent=("runs",)),
    Case("output_folder_missing_bench_json", "bench --json in a folder that does not exist", "bench",
         lambda e: _bench(e, "--json", e.p("nope/r.json")), "--json {tmp}/nope/r.json: folder {tmp}/nope does not exist",
         absent=("nope",)),
    Case("build_out_names_a_file", "build -o model.onnx (a file name; -o is the output folder)", "build --target cpu",
         lambda e: ["build", e.onnx(), "--target", "cpu", "-o", e.p("out.onnx")],
         "build -o names the output folder (the artifact is MODEL.TARGET.onnx or MODEL.TARGET.engine inside it",
         absent=("out.onnx",)),
    Case("build_out_is_an_existing_file", "build -o naming an existing file", "build --target cpu",
         lambda e: ["build", e.onnx(), "--target", "cpu", "-o", e.write("notes.txt", b"x")],
         "-o {tmp}/notes.txt is a file, but -o names a folder"),
    # values: type, finiteness and range where they enter
    Case("config_lr_nan", "learning rate NaN (--set lr=nan)", "train",
         lambda e: _train(e, "lr=nan"), "--set: lr: expected a finite number, got nan", absent=("run",)),
    Case("config_lr_not_positive", "learning rate 0", "train",
         lambda e: _train(e, "lr=0"), "--set: lr: expected a finite number > 0, got 0", absent=("run",)),
    Case("config_epochs_zero", "epochs = 0", "train",
         lambda e: _train(e, "epochs=0"), "--set: epochs: expected an integer >= 1, got 0", absent=("run",)),
    Case("config_crop_too_large", "augment.crop_height = 100000 (a frame that cannot fit in memory)", "train",
         lambda e: _train(e, "augment.crop_height=100000"),
         "--set: augment.crop_height: expected an integer from 1 to 16384, got 100000", absent=("run",)),
    Case("config_batch_exceeds_memory", "batch_size = 1000000 of 360 x 480 crops (refused before reading any data)",
         "train", lambda e: _train(e, "batch_size=1000000"),
         "batch_size x augment.crop_height x augment.crop_width: 1000000 x 360 x 480 x 3 float32 inputs take",
         absent=("run",)),
    Case("config_list_entry_inf", "data.std with an infinite entry", "train",
         lambda e: _train(e, "data.std=[1.0, inf, 1.0]"), "--set: data.std[1]: expected a finite number, got inf",
         absent=("run",)),
    Case("config_file_negative_batch", "TOML config file with batch_size = -4", "train",
         lambda e: ["train", e.write("bad.toml", CONFIG.read_bytes().replace(b"batch_size = ", b"batch_size = -4 #")),
                    "--out", e.p("run")], "{tmp}/bad.toml: batch_size: expected an integer >= 1, got -4", absent=("run",)),
    Case("flag_alpha_nan", "run --alpha nan", "run",
         lambda e: [*_run_argv(e, e.onnx()), "--alpha", "nan"], "--alpha: expected a number from 0 to 1, got nan",
         absent=("out.mp4",)),
    Case("flag_max_frames_negative", "run --max-frames -1", "run",
         lambda e: [*_run_argv(e, e.onnx())[:-1], "-1"], "--max-frames: expected an integer >= 0, got -1",
         absent=("out.mp4",)),
    Case("flag_score_threshold_above_one", "run --score-threshold 1.5", "run",
         lambda e: [*_run_argv(e, e.onnx()), "--score-threshold", "1.5"],
         "--score-threshold: expected a number from 0 to 1, got 1.5", absent=("out.mp4",)),
    Case("flag_bench_confidence_one", "bench --confidence 1 (an interval of 100 %)", "bench",
         lambda e: _bench(e, "--confidence", "1", "--json", e.p("r.json")),
         "--confidence: expected a finite number > 0 and < 1, got 1.0", absent=("r.json",)),
    Case("flag_bench_warmup_inf", "bench --warmup-s inf", "bench",
         lambda e: _bench(e, "--warmup-s", "inf"), "--warmup-s: expected a finite number >= 0, got inf"),
    Case("flag_export_height_huge", "export --height 100000", "export",
         lambda e: [*_export(e, str(CHECKPOINT)), "--height", "100000"],
         "--height: expected an integer from 1 to 16384, got 100000", absent=("out.onnx",)),
    Case("flag_export_frames_exceed_memory", "export --batch 4096 at 16384 x 16384 (terabytes; refused before allocating)",
         "export", lambda e: [*_export(e, str(CHECKPOINT)), "--height", "16384", "--width", "16384", "--batch", "4096"],
         "--height x --width: 4096 x 16384 x 16384 x 4 float32 inputs take", absent=("out.onnx",)),
    Case("flag_quantize_drop_nan", "quantize --max-miou-drop nan (a gate that nothing passes or fails)",
         "quantize --precision fp16",
         lambda e: ["quantize", e.onnx(), "--precision", "fp16", "-o", e.p("fp16.onnx"), "--max-miou-drop", "nan"],
         "--max-miou-drop: expected a number from -100 to 100, got nan", absent=("fp16.onnx",)),
    Case("flag_stop_after_zero", "train --stop-after 0", "train",
         lambda e: [*_train(e), "--stop-after", "0"], "--stop-after: expected an integer >= 1, got 0", absent=("run",)),
    # resume: the recorded run, or an explicit change
    Case("resume_changed_crop", "--resume with a different augment.crop_height than the run recorded", "train --resume",
         lambda e: _resume(e, "--set", "augment.crop_height=64"),
         "augment.crop_height: 96 (recorded) -> 64 (now). Resume with the recorded values"),
    Case("resume_changed_data_root", "--resume with another data.root than the run recorded", "train --resume",
         lambda e: _resume(e, "--set", f'data.root="{_mkdir(e, "other")}"'),
         "but this command asks for a different run: data.root: "),
    Case("resume_without_config_json", "--resume of a run folder whose config.json was deleted", "train --resume",
         _resume_without_config,
         "config.json does not exist, so the run's config is unknown"),
    Case("allow_changes_without_resume", "--allow-changes on a new run", "train",
         lambda e: [*_train(e), "--allow-changes"], "--allow-changes is for --resume", absent=("run",)),
    # divergence and non-finite weights
    Case("training_diverges", "training resumed with lr 1e30: the loss becomes NaN in epoch 2", "train --resume",
         _diverging_run, "training diverged at epoch 2, step ", code=4),
    Case("checkpoint_weights_not_finite", "checkpoint with an infinite weight (a diverged run)", "export",
         _non_finite_checkpoint, "weight value(s) of", absent=("out.onnx",)),
    Case("onnx_opset_domain_twice", "ONNX importing the default domain twice, as opset 17 and 13", "quantize --precision fp16",
         _onnx_two_default_opsets, "imports the same opset domain with different versions {{'ai.onnx': [13, 17]}}",
         absent=("fp16.onnx",)),
]
CASES += NOTHING_LOST


def _hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` and of the repository files the cases read."""
    import hashlib

    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()] + [VIDEO, CHECKPOINT, CONFIG]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _write_after(argv: list[str], path: Path, data: bytes) -> list[str]:
    path.write_bytes(data)
    return argv


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, capsys):
    from edgeseg.cli import main

    env = Env(tmp_path, monkeypatch)
    argv = case.make(env)
    before = _hashes(tmp_path)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    after = _hashes(tmp_path)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"input files changed or removed: {changed}"
    assert code == case.code, err
    assert case.message.format(tmp=tmp_path) in err, err
    assert "Traceback" not in err
    assert err.count(f"edgeseg {argv[0]}: error:") == 1, err
    for name in case.absent:
        assert not (tmp_path / name).exists(), f"{name} was left behind"
    leftovers = [p.name for p in tmp_path.rglob("*.tmp*")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_catalogue_covers_the_issue():
    names = {c.name for c in CASES}
    for prefix in ("checkpoint_", "onnx_", "engine_", "video_", "config_", "dataset_", "sink_", "source_",
                   "calibration_", "disk_full"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert len(names) == len(CASES)


def test_docs_table_is_generated_from_this_list():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bad_inputs_table.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_debug_shows_a_traceback(tmp_path):
    """Through a real terminal process: one line without --debug, the traceback with it."""
    argv = [sys.executable, "-m", "edgeseg"]
    plain = subprocess.run([*argv, "info", str(tmp_path / "missing.pt")], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().endswith("missing.pt does not exist"), plain.stderr
    debug = subprocess.run([*argv, "--debug", "info", str(tmp_path / "missing.pt")], capture_output=True, text=True,
                           timeout=120)
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr and "EdgesegError: " in debug.stderr


def test_onnx_without_metadata_but_with_the_contract_runs(tmp_path, caplog):
    """The accepted side of the metadata rule: contract I/O is enough, with a warning and generic classes."""
    import logging

    from edgeseg.cli import main

    env = Env(tmp_path, pytest.MonkeyPatch())
    model = env.onnx("plain.onnx", metadata=False)
    with caplog.at_level(logging.WARNING):
        assert main(_run_argv(env, model)) == 0
    assert "has no edgeseg metadata: inferred the contract" in caplog.text
    assert (tmp_path / "out.mp4").stat().st_size > 0

    from edgeseg.runtime.backends.ort import OrtBackend

    backend = OrtBackend(model)
    assert backend.metadata.num_classes == 256 and backend.metadata.classes[:2] == ["class0", "class1"]
    assert (backend.metadata.input.height, backend.metadata.input.width) == (32, 48)
