"""The CLI's skeleton: help without heavy packages, lazy imports, error handling."""

import json
import subprocess
import sys

from edgeseg.cli import build_parser, main

BLOCK_HEAVY = """
import sys
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'onnx', 'onnxruntime', 'tensorrt', 'cuda', 'matplotlib'}:
            raise ImportError(f'blocked for this test: {name}')
sys.meta_path.insert(0, _Blocker())
"""


def _run_blocked(code: str):
    return subprocess.run([sys.executable, "-c", BLOCK_HEAVY + code], capture_output=True, text=True, timeout=60)


def test_help_and_import_work_without_heavy_packages():
    done = _run_blocked("import edgeseg, edgeseg.runtime, edgeseg.metadata\nfrom edgeseg.cli import main\nmain(['--help'])")
    assert done.returncode == 0, done.stderr
    for stage in ("train", "eval", "info", "bench", "models"):
        assert stage in done.stdout


def test_missing_torch_names_the_extra(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"x")
    done = _run_blocked(f"from edgeseg.cli import main\nraise SystemExit(main(['info', r'{tmp_path / 'm.pt'}']))")
    assert done.returncode == 3
    assert "pip install 'edgeseg[train]'" in done.stderr and "Traceback" not in done.stderr


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, sub_parser in sub.choices.items():
        assert sub_parser.format_help().strip(), name


def test_info_prints_checkpoint_metadata(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "checkpoint" and info["metadata"]["architecture"] == "enet"
    assert len(info["metadata"]["classes"]) == 11


def test_unknown_artifact_kind(tmp_path, capsys):
    (tmp_path / "x.bin").write_bytes(b"1")
    assert main(["info", str(tmp_path / "x.bin")]) == 2
    assert "unknown artifact kind .bin" in capsys.readouterr().err
