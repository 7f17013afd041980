"""``bench --save-baseline`` keeps a reference copy; ``--check`` times it interleaved with the new build.

Real onnxruntime sessions on real ONNX files. A "regression" is a real
slower model (16x the pixels) written over the artifact, as a rebuild would.
"""

from __future__ import annotations

import json
import logging
import shutil

import pytest
from helpers import make_contract_onnx

from edgeseg.cli import main
from edgeseg.hashing import sha256_file

FAST = ["--warmup-s", "0.1", "--min-iters", "40", "--min-time-s", "0.3", "--blocks", "8"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGESEG_CACHE_DIR", str(tmp_path / "cache"))  # builds never touch the user's cache
    (tmp_path / "engines").mkdir()
    (tmp_path / "bench").mkdir()
    make_contract_onnx(tmp_path / "engines" / "m.onnx", height=48, width=64)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_save_baseline_copies_the_artifact_and_its_sidecar_beside_the_baseline(project):
    pytest.importorskip("openvino")
    # a real cpu-target build: an OpenVINO blob whose backend refuses it without its keyed sidecar
    assert main(["build", "engines/m.onnx", "--target", "cpu", "--threads", "1", "-o", "engines"]) == 0
    blob, sidecar = project / "engines" / "m.cpu.blob", project / "engines" / "m.cpu.blob.json"
    before = sha256_file(blob), sha256_file(sidecar)
    assert main(["bench", str(blob), "--threads", "1", *FAST, "--save-baseline", "bench/m.json"]) == 0
    data = json.loads((project / "bench" / "m.json").read_text())
    assert data["reference"]["path"] == "m.reference/m.cpu.blob"
    folder = project / "bench" / "m.reference"
    assert sorted(p.name for p in folder.iterdir()) == ["m.cpu.blob", "m.cpu.blob.json"]  # no temporary left
    assert (sha256_file(folder / "m.cpu.blob"), sha256_file(folder / "m.cpu.blob.json")) == before
    assert data["reference"]["sha256"] == before[0]
    assert (sha256_file(blob), sha256_file(sidecar)) == before  # the artifact was only read
    # the copy opens (sidecar checked) and is timed against the build
    assert main(["bench", str(blob), "--threads", "1", *FAST, "--check", "bench/m.json", "--tolerance", "0.5",
                 "--json", "r.json"]) == 0
    assert json.loads((project / "r.json").read_text())["check"]["mode"] == "interleaved with the reference copy"


def test_no_reference_saves_only_the_json(project):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json", "--no-reference"]) == 0
    assert "reference" not in json.loads((project / "bench" / "m.json").read_text())
    assert not (project / "bench" / "m.reference").exists()


def test_check_times_the_reference_interleaved_and_catches_a_slower_rebuild(project):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json"]) == 0
    assert main(["bench", "engines/m.onnx", *FAST, "--check", "bench/m.json", "--tolerance", "0.5",
                 "--json", "same.json"]) == 0
    same = json.loads((project / "same.json").read_text())["check"]
    assert same["mode"] == "interleaved with the reference copy" and same["same_artifact"] is True
    assert same["trials"] == 8 and 0.7 < same["ratio"] < 1.3, same
    assert 0.3 < same["reference_p50_now_over_recorded"] < 3

    make_contract_onnx(project / "engines" / "m.onnx", height=192, width=256)  # the "rebuild": 16x the pixels
    assert main(["bench", "engines/m.onnx", *FAST, "--check", "bench/m.json", "--tolerance", "0.5",
                 "--json", "slow.json"]) == 1
    slow = json.loads((project / "slow.json").read_text())["check"]
    assert slow["regression"] is True and slow["same_artifact"] is False
    assert slow["ratio"] > 2 and slow["low"] > 1, slow  # against the reference copy, not the overwritten file


@pytest.mark.parametrize("damage, why", [
    ("delete", "its reference copy .* is missing"),
    ("modify", "changed since the baseline was saved"),
])
def test_a_missing_or_changed_reference_falls_back_to_the_recorded_latencies_and_says_so(project, caplog, damage, why):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json"]) == 0
    copy = project / "bench" / "m.reference" / "m.onnx"
    if damage == "delete":
        shutil.rmtree(copy.parent)
    else:
        make_contract_onnx(copy, height=48, width=64, seed=3)
    with caplog.at_level(logging.WARNING, logger="edgeseg.bench"):
        assert main(["bench", "engines/m.onnx", *FAST, "--check", "bench/m.json", "--tolerance", "10",
                     "--json", "r.json"]) == 0
    assert json.loads((project / "r.json").read_text())["check"]["mode"] == "against the recorded latencies"
    assert __import__("re").search(why, caplog.text), caplog.text
    assert "Re-record with --save-baseline" in caplog.text


def test_no_reference_on_check_uses_the_recorded_latencies(project):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json"]) == 0
    assert main(["bench", "engines/m.onnx", *FAST, "--check", "bench/m.json", "--no-reference", "--tolerance", "10",
                 "--json", "r.json"]) == 0
    assert json.loads((project / "r.json").read_text())["check"]["mode"] == "against the recorded latencies"


def test_pytest_helper_uses_the_reference_copy(project):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json"]) == 0
    from edgeseg.runtime.bench.ci import check_baseline

    check = check_baseline(project / "bench" / "m.json", tolerance=0.5)
    assert check["mode"] == "interleaved with the reference copy" and not check["regression"]
    make_contract_onnx(project / "engines" / "m.onnx", height=192, width=256)
    with pytest.raises(pytest.fail.Exception, match=r"m.json: regression: .* \[interleaved with the reference copy\]"):
        check_baseline(project / "bench" / "m.json", tolerance=0.5)


def test_cpu_clock_checks_against_the_reference_and_records_the_clock(project):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json"]) == 0
    make_contract_onnx(project / "engines" / "m.onnx", height=192, width=256)  # 16x the pixels
    assert main(["bench", "engines/m.onnx", *FAST, "--check", "bench/m.json", "--clock", "cpu", "--tolerance", "0.5",
                 "--json", "cpu.json"]) == 1
    check = json.loads((project / "cpu.json").read_text())["check"]
    assert check["clock"] == "cpu" and check["regression"] and check["ratio"] > 2, check
    assert check["reference_p50_now_over_recorded"] is None  # recorded latencies are wall time: no drift line


def test_cpu_clock_without_interleaving_is_refused_before_measuring(project, capsys):
    assert main(["bench", "engines/m.onnx", *FAST, "--save-baseline", "bench/m.json", "--no-reference"]) == 0
    capsys.readouterr()
    assert main(["bench", "engines/m.onnx", "--min-time-s", "60", "--check", "bench/m.json", "--clock", "cpu"]) == 2
    assert main(["bench", "engines/m.onnx", "--min-time-s", "60", "--clock", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("--clock cpu compares CPU time in interleaved trials: it needs --against B") == 2, err
    assert "nothing was measured" in err


def test_until_decided_extends_only_while_the_interval_straddles_the_threshold():
    from edgeseg.runtime.bench.measure import TimingPlan
    from edgeseg.runtime.bench.paired import time_pair_until_decided

    class Constant:  # not a fake of any backend: a callable whose time per call is fixed by sleeping
        input_shape = (1, 2, 2, 3)

        def __init__(self, seconds):
            self.seconds = seconds

        def infer(self, x):
            __import__("time").sleep(self.seconds)

    plan = TimingPlan(warmup_s=0.02, min_iters=10, min_time_s=0.01)
    clear = time_pair_until_decided(Constant(0.001), Constant(0.002), plan, 5, threshold=1.025)
    assert len(clear.a_trials) == 5 and clear.estimate.low > 1.5  # decided at once: no more trials
    close = time_pair_until_decided(Constant(0.001), Constant(0.001), plan, 5, threshold=1.0, max_rounds=3)
    # equal sleeps against a threshold of exactly 1: it stops early only once the interval is on one side
    assert len(close.a_trials) in (5, 10, 15)
    if len(close.a_trials) < 15:
        assert not close.estimate.low <= 1.0 <= close.estimate.high
