"""The catalogue of bad inputs (issue 8): one table, one test per row.

Each :class:`Case` makes a bad input under ``tmp_path``, runs ``edgeseg ...``
through :func:`edgeseg.cli.main` (in-process: an exception other than
:class:`EdgesegError` would escape ``main`` and fail the test, which is what a
traceback on the terminal would be), and asserts: a non-zero exit code equal
to the case's, the expected message on stderr (what, where and how to fix),
no "Traceback" on stderr, and no file under the final output names.
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

    from edgeseg.engines.build import build
    from edgeseg.engines.cuda_rt import CudaRuntime, GpuInfo
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
    result = build(Path(env.onnx()), get_target("cpu"), env.tmp / "built")
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


def _write_after(argv: list[str], path: Path, data: bytes) -> list[str]:
    path.write_bytes(data)
    return argv


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, capsys):
    from edgeseg.cli import main

    env = Env(tmp_path, monkeypatch)
    argv = case.make(env)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
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
