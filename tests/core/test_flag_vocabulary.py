"""One flag vocabulary: --kind everywhere data is read, --limit, model flags, did-you-mean, deprecated names."""

from __future__ import annotations

import argparse
import logging

import cv2
import numpy as np
import pytest

from edgeseg.cli import build_parser, main
from edgeseg.cli_vocab import DATA_KINDS
from edgeseg.datasets import LAYOUTS


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def test_kind_choices_are_the_same_wherever_data_is_read():
    assert set(DATA_KINDS) == {"auto", *LAYOUTS}
    for name in ("eval", "compare", "quantize"):
        assert tuple(option(subparsers()[name], "--kind").choices) == DATA_KINDS, name


def test_model_flags_and_limit_wherever_they_apply():
    subs = subparsers()
    for name in ("run", "eval", "compare", "bench"):
        for flag in ("--backend", "--providers", "--threads"):
            assert option(subs[name], flag) is not None, (name, flag)
    for name in ("eval", "compare", "quantize"):
        assert option(subs[name], "--limit") is not None, name
    for name in subs:
        assert option(subs[name], "--quiet") is not None, name


def test_eval_limit_is_a_deprecated_alias_of_limit(capsys):
    args = build_parser().parse_args(["quantize", "m.onnx", "--precision", "int8", "--eval-limit", "3"])
    assert args.eval_limit == 3 and "--eval-limit is deprecated; use --limit" in capsys.readouterr().err
    assert build_parser().parse_args(["quantize", "m.onnx", "--precision", "int8", "--limit", "4"]).eval_limit == 4
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, message", [
    (["evl", "x"], "invalid choice: 'evl' .*; did you mean 'eval'\\?"),
    (["eval", "x", "--data", "d", "--kind", "camvd"], "did you mean 'camvid'\\?"),
    (["run", "m", "--source", "s", "--sink", "null", "--treads", "2"], "edgeseg run: error: unrecognized arguments: --treads 2; did you mean --threads\\?"),
    (["bench", "m", "--plto", "x.png", "--jsn", "y"], "did you mean --plot \\(not --plto\\), --json \\(not --jsn\\)\\?"),
    (["info", "m", "--zzzzzz"], "unrecognized arguments: --zzzzzz$"),
])
def test_did_you_mean(argv, message, capsys):
    import re

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err.strip().splitlines()[-1])


def test_providers_cuda_with_a_checkpoint_is_an_error_not_ignored(capsys):
    from helpers import COMMITTED_ENET, SAMPLES

    assert main(["eval", str(COMMITTED_ENET), "--data", str(SAMPLES), "--providers", "cuda"]) == 2
    assert "--providers cuda: execution providers are onnxruntime's" in capsys.readouterr().err
    assert main(["run", str(COMMITTED_ENET), "--source", "synthetic://", "--sink", "null", "--threads", "3"]) == 2
    assert "--threads 3: inference threads are onnxruntime's and OpenVINO's" in capsys.readouterr().err


def test_folder_data_set_with_default_normalisation_warns_with_its_own_statistics(tmp_path, caplog):
    from edgeseg.train.config import DataConfig
    from edgeseg.train.normalisation_check import warn_if_default_normalisation

    for split in ("train",):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "masks" / split).mkdir(parents=True)
        for i in range(3):
            image = np.zeros((20, 30, 3), np.uint8)
            image[:] = (10, 100, 200)  # BGR: R 200, G 100, B 10
            cv2.imwrite(str(tmp_path / "images" / split / f"{i}.png"), image)
            cv2.imwrite(str(tmp_path / "masks" / split / f"{i}.png"), np.zeros((20, 30), np.uint8))
    (tmp_path / "classes.txt").write_text("a\nb\n")
    data = DataConfig(kind="folder", root=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        assert warn_if_default_normalisation(data) is True
    assert "data.kind folder uses the default normalisation, CamVid's" in caplog.text
    assert "3 of your training images have mean [200.0, 100.0, 10.0], std [0.0, 0.0, 0.0]" in caplog.text
    assert "--set 'data.mean=[200.0, 100.0, 10.0]'" in caplog.text
    assert warn_if_default_normalisation(DataConfig(kind="folder", root=str(tmp_path), mean=[1, 2, 3])) is False
    assert warn_if_default_normalisation(DataConfig(kind="camvid")) is False
