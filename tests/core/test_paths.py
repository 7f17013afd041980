"""edgeseg.paths and edgeseg.command_checks: one check, before any work, that no output is an input."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
from helpers import COMMITTED_ENET, ROOT

from edgeseg.command_checks import FLAG_RANGES, INPUTS, OUTPUTS, check_command
from edgeseg.errors import EdgesegError
from edgeseg.paths import Named, check_outputs, inside, same_file, sink_path

VIDEO = ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_file_is_the_file_on_disk_not_the_string(tmp_path, monkeypatch):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"video")
    (tmp_path / "sub").mkdir()
    os.symlink(a, tmp_path / "link.mp4")
    os.link(a, tmp_path / "hard.mp4")
    other = tmp_path / "b.mp4"
    other.write_bytes(b"video")  # same bytes, another file
    monkeypatch.chdir(tmp_path)
    for spelling in ("a.mp4", "./a.mp4", "sub/../a.mp4", str(a), "link.mp4", "hard.mp4"):
        assert same_file(spelling, str(a)), spelling
    assert not same_file(str(other), str(a))
    assert not same_file("missing.mp4", str(a))


@pytest.mark.parametrize("name, how", [("link.pt", " (through a symbolic link)"), ("hard.pt", " (a hard link to it)"),
                                       ("sub/../ck.pt", " (spelled differently)"), ("ck.pt", "")])
def test_the_message_names_both_and_says_how_they_are_one(tmp_path, name, how):
    ck = tmp_path / "ck.pt"
    ck.write_bytes(b"weights")
    (tmp_path / "sub").mkdir()
    os.symlink(ck, tmp_path / "link.pt")
    os.link(ck, tmp_path / "hard.pt")
    with pytest.raises(EdgesegError) as info:
        check_outputs([Named("checkpoint", str(ck))], [Named("-o", str(tmp_path / name))])
    assert str(info.value).startswith(f"-o {tmp_path / name} is the same file as checkpoint {ck}{how}: writing it "
                                      "would destroy the input"), info.value


def test_output_folders_inside_input_folders_and_colliding_outputs(tmp_path):
    data = tmp_path / "data"
    (data / "masks").mkdir(parents=True)
    assert inside(str(data / "masks" / "new"), str(data)) and not inside(str(data), str(data))
    with pytest.raises(EdgesegError, match="is inside --data"):
        check_outputs([Named("--data", str(data), folder=True)], [Named("--overlay-dir", str(data / "masks"), folder=True)])
    # A file written beside the data (or in it, under a new name) destroys nothing.
    check_outputs([Named("--data", str(data), folder=True)], [Named("--json", str(data / "scores.json"))])
    with pytest.raises(EdgesegError, match="name the same file: the second would replace the first"):
        check_outputs([], [Named("--json", str(tmp_path / "r.json")), Named("--plot", str(tmp_path / "x/../r.json"))])


def test_missing_parent_is_refused_and_an_output_folder_may_be_new(tmp_path):
    check_outputs([], [Named("-o", str(tmp_path / "new"), folder=True)])  # created later by the command
    with pytest.raises(EdgesegError, match=r"folder .*/nope does not exist; create it first"):
        check_outputs([], [Named("-o", str(tmp_path / "nope" / "new"), folder=True)])
    with pytest.raises(EdgesegError, match="is a folder; give a file name"):
        check_outputs([], [Named("--json", str(tmp_path))])


def test_sinks_that_are_not_files_are_not_checked():
    for uri in ("null", "display://0", "http://127.0.0.1:8080", "rtsp://127.0.0.1:8554/x"):
        assert sink_path(uri) is None, uri
    assert sink_path("out.mp4") == Named("--sink", "out.mp4")
    assert sink_path("frames/%05d.png") == Named("--sink", "frames", folder=True)
    assert sink_path("file://frames/") == Named("--sink", "frames/", folder=True)


def test_the_tables_name_real_options():
    """Every dest in the tables is an option of its command, so a renamed flag cannot silently go unchecked."""
    from edgeseg.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for table in (INPUTS, OUTPUTS, FLAG_RANGES):
        for command, entries in table.items():
            dests = {a.dest for a in commands[command]._actions}
            names = entries if isinstance(entries, dict) else [e[0] for e in entries]
            assert set(names) <= dests, (command, set(names) - dests)


def test_the_two_data_loss_cases_of_the_issue_leave_their_inputs_as_they_were(tmp_path, capsys):
    """run --sink clip.mp4 --source clip.mp4 and export ck.pt -o ck.pt: refused, sha256 unchanged, nothing written."""
    from helpers import make_contract_onnx

    from edgeseg.cli import main

    clip, ck = tmp_path / "clip.mp4", tmp_path / "ck.pt"
    clip.write_bytes(VIDEO.read_bytes())
    ck.write_bytes(COMMITTED_ENET.read_bytes())
    make_contract_onnx(tmp_path / "m.onnx")
    before = {p: _sha(p) for p in (clip, ck)}
    assert main(["run", str(tmp_path / "m.onnx"), "--source", str(clip), "--sink", str(clip), "--max-frames", "5"]) == 2
    assert main(["export", str(ck), "-o", str(ck)]) == 2
    err = capsys.readouterr().err
    assert f"--sink {clip} is the same file as --source {clip}" in err
    assert f"-o {ck} is the same file as checkpoint {ck}" in err
    assert {p: _sha(p) for p in (clip, ck)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt", "clip.mp4", "m.onnx"]


def test_check_command_is_quiet_for_good_arguments(tmp_path):
    args = Namespace(command="eval", artifact=str(COMMITTED_ENET), data=str(ROOT / "samples" / "camvid"),
                     json=str(tmp_path / "scores.json"), overlay_dir=None, limit=0)
    check_command(args)


def test_info_into_a_closed_pipe_is_not_a_traceback():
    """`edgeseg info X | head`: the reader closes the pipe before edgeseg writes."""
    proc = subprocess.Popen([sys.executable, "-m", "edgeseg", "info", str(COMMITTED_ENET)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # type: ignore[union-attr]
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_every_numeric_flag_has_a_range():
    """A new int or float option without a Range would let NaN, negatives or 10**12 through to the stage."""
    from edgeseg.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = []
    for name, sub in commands.items():
        for action in sub._actions:
            if action.type in (int, float) and action.dest not in FLAG_RANGES.get(name, {}):
                missing.append(f"edgeseg {name} {action.option_strings[0] if action.option_strings else action.dest}")
    assert not missing, f"add a Range for these to edgeseg.command_checks.FLAG_RANGES: {missing}"
