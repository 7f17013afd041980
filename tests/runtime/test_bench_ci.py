"""bench in CI: baselines relative to their file, outputs and flags checked before measuring, the --check plot."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from helpers import make_contract_onnx

from edgeseg.cli import main

FAST = ["--warmup-s", "0", "--min-iters", "20", "--min-time-s", "0.2", "--blocks", "5"]


@pytest.fixture
def model(tmp_path):
    (tmp_path / "models").mkdir()
    return make_contract_onnx(tmp_path / "models" / "m.onnx", height=48, width=64)[0]


def test_baseline_stores_the_artifact_relative_to_itself_and_runs_from_another_directory(model, tmp_path, monkeypatch):
    baselines = tmp_path / "bench" / "baselines"
    baselines.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "models/m.onnx", *FAST, "--save-baseline", "bench/baselines/m.json"]) == 0
    data = json.loads((baselines / "m.json").read_text())
    assert data["artifact"] == os.path.join("..", "..", "models", "m.onnx")
    from edgeseg.hashing import sha256_file

    assert data["artifact_sha256"] == sha256_file(model)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the README's pytest snippet, run from another working directory
    from edgeseg.runtime.bench.ci import check_baseline

    check = check_baseline(baselines / "m.json", tolerance=10.0)
    assert not check["regression"]


@pytest.mark.parametrize("flag, value, message", [
    ("--save-baseline", "newdir/x.json", "--save-baseline newdir/x.json: folder .*newdir does not exist; create it first"),
    ("--json", "newdir/x.json", "--json newdir/x.json: folder .*newdir does not exist"),
    ("--plot", ".", "--plot . is a folder; give a file name"),
])
def test_bad_output_paths_fail_before_measuring(model, tmp_path, monkeypatch, capsys, flag, value, message):
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    # a 60 s plan: failing fast proves nothing was measured
    assert main(["bench", str(model), "--min-time-s", "60", flag, value]) == 2
    assert time.perf_counter() - started < 20
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err


def test_check_with_other_flags_is_refused_before_measuring(model, tmp_path, capsys):
    baseline = tmp_path / "b.json"
    assert main(["bench", str(model), *FAST, "--save-baseline", str(baseline)]) == 0
    capsys.readouterr()
    started = time.perf_counter()
    assert main(["bench", str(model), "--min-time-s", "60", "--threads", "2", "--check", str(baseline)]) == 2
    assert main(["bench", str(model), "--min-time-s", "60", "--scenario", "offline", "--check", str(baseline)]) == 2
    assert time.perf_counter() - started < 20
    err = capsys.readouterr().err
    assert "--threads 2 (the baseline used 0)" in err and "nothing was measured" in err
    assert "--scenario offline (the baseline is single-stream)" in err


def text_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    return [(text, box) for text, box in boxes if box.width > 1]  # unused tick label slots are 1 x 1 at the origin


def test_check_plot_has_the_verdict_and_no_overlapping_labels(model, tmp_path):
    pytest.importorskip("matplotlib")
    from edgeseg.runtime.bench.plot import latency_figure

    rng = np.random.default_rng(0)
    a = (10 * np.exp(rng.normal(0, 0.05, 400))).tolist()
    b = (10.1 * np.exp(rng.normal(0, 0.05, 400))).tolist()  # curves nearly on top of each other
    fig = latency_figure((a, "current"), (b, "baseline"), title="ok: ratio 0.99 [0.98, 1.00] within the tolerance")
    boxes = text_boxes(fig)
    texts = [t for t, _ in boxes]
    assert any(t.startswith("ok: ratio 0.99") for t in texts)
    assert any("current (n=400): p50 " in t and "p99" in t for t in texts)
    for i, (ta, ba) in enumerate(boxes):
        for tb, bb in boxes[i + 1:]:
            assert not ba.overlaps(bb), f"{ta!r} overlaps {tb!r}"
    __import__("matplotlib.pyplot").pyplot.close(fig)

    baseline, plot = tmp_path / "b.json", tmp_path / "check.png"
    assert main(["bench", str(model), *FAST, "--save-baseline", str(baseline)]) == 0
    assert main(["bench", str(model), *FAST, "--check", str(baseline), "--tolerance", "10", "--plot", str(plot),
                 "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["check"]["same_artifact"] is True
    assert plot.stat().st_size > 10_000
