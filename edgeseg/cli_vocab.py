"""One vocabulary of flags across commands, and "did you mean" for typos.

- :data:`DATA_KINDS`: the ``--kind`` choices of every command that reads a labelled data set.
- :func:`add_model_arguments`: ``--backend``, ``--providers`` and ``--threads`` for every command that runs a model.
- :class:`DeprecatedAlias`: an old flag name that still works and says which one replaced it.
- :class:`SuggestingParser`: ``argparse`` errors gain "did you mean ...?" for a mistyped subcommand,
  flag or choice (Python 3.14's ``suggest_on_error``, for the versions edgeseg supports).

Imports nothing heavy: ``edgeseg --help`` stays fast on a Jetson.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .dataset_types import LAYOUTS

# The data set layouts plus "auto" (guess from the folder); dataset_types imports no OpenCV.
DATA_KINDS = ("auto", *LAYOUTS)


def add_data_kind(p: argparse.ArgumentParser, flag: str = "--kind") -> None:
    p.add_argument(flag, dest="kind", choices=DATA_KINDS, default="auto",
                   help="data set layout (default: guessed from the folder)")


def add_model_arguments(p: argparse.ArgumentParser, *, backend_help: str | None = None) -> None:
    """``--backend``, ``--providers``, ``--threads``, as ``edgeseg run`` has them."""
    p.add_argument("--backend", default="auto",
                   help=backend_help or "auto (by suffix: .pt torch, .onnx onnxruntime, .blob openvino, "
                                        ".engine tensorrt), onnxruntime, openvino, tensorrt or torch")
    p.add_argument("--providers", default="cpu",
                   help="onnxruntime execution providers in order of preference, comma-separated: cpu, cuda, "
                        "tensorrt (default: cpu); an error with another backend")
    p.add_argument("--threads", type=int, default=0,
                   help="onnxruntime or OpenVINO inference threads (0: the runtime's default); an error with "
                        "another backend")


def provider_list(text: str | None) -> list[str]:
    """``"cuda, cpu"`` -> ``["cuda", "cpu"]``."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]


class DeprecatedAlias(argparse.Action):
    """Stores like the new flag, and warns once that ``option_string`` is an old name of ``new``."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str, **kwargs: Any):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if option_string != self.new:
            print(f"edgeseg: warning: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _closest(word: str, candidates: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


class SuggestingParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors suggest the closest subcommand, choice or flag."""

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            guess = _closest(choice.group(1), options)
            if guess:
                message += f"; did you mean '{guess}'?"
        unknown = re.search(r"unrecognized arguments: (.*)", message)
        if unknown:
            flags = [s for action in self._actions for s in action.option_strings]
            hints = []
            for word in unknown.group(1).split():
                if word.startswith("-"):
                    guess = _closest(word.split("=", 1)[0], flags)
                    if guess:
                        hints.append((word.split("=", 1)[0], guess))
            if len(hints) == 1:
                message += f"; did you mean {hints[0][1]}?"
            elif hints:
                message += "; did you mean " + ", ".join(f"{new} (not {old})" for old, new in hints) + "?"
        super().error(message)


def parse_with_suggestions(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, reporting unknown flags through the chosen subcommand's parser (so its
    flags are the ones suggested, and its usage is the one printed)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subparser(parser, getattr(args, "command", None))
        (sub or parser).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return None


__all__ = ["DATA_KINDS", "DeprecatedAlias", "SuggestingParser", "add_data_kind", "add_model_arguments",
           "parse_with_suggestions", "provider_list"]
