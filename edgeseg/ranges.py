"""Allowed ranges of numbers, checked where a value enters (a config key, a ``--set``, a CLI flag).

One :class:`Range` says what a number may be; the config validator
(:func:`edgeseg.schema.build`, reading a dataclass's
``FIELD_RANGES``) and the CLI flag check (:mod:`edgeseg.command_checks`)
both raise its message, in the catalogue's form ``WHERE: expected WHAT, got
VALUE`` (see docs/bad_inputs.md). NaN and infinities are refused everywhere.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from .errors import EdgesegError

# A frame side beyond this is a typo; 16384 x 16384 x 3 bytes is already 768 MiB for one frame.
MAX_SIDE = 16384


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``<`` where ``*_open``); None: no bound. ``hint`` ends the message."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    hint: str = ""

    def describe(self, integer: bool = False) -> str:
        noun = "an integer" if integer else "a number"
        if self.low is not None and self.high is not None and not (self.low_open or self.high_open):
            return f"{noun} from {self.low:g} to {self.high:g}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return ("an integer" if integer else "a finite number") + (" " + " and ".join(parts) if parts else "")

    def check(self, value: Any, where: str) -> None:
        """Raise :class:`EdgesegError` unless ``value`` is a finite number in range (None passes: "not given")."""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return  # types are the caller's check; this one is about numbers
        ok = math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value < self.high if self.high_open else value <= self.high
        if not ok:
            hint = f"; {self.hint}" if self.hint else ""
            raise EdgesegError(f"{where}: expected {self.describe(isinstance(value, int))}, got {value!r}{hint}")


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_ONE = Range(1)
FRACTION = Range(0, 1)
SIDE = Range(1, MAX_SIDE, hint=f"a side in pixels (larger than {MAX_SIDE}, frames do not fit a device's memory)")


def at_least(low: float, hint: str = "") -> Range:
    return Range(low, hint=hint)


def check_frame_fits(height: int, width: int, channels: int, count: int, where: str) -> None:
    """Refuse ``count`` float32 frames of ``height x width x channels`` that exceed physical memory.

    A model's activations are many times its input, so an input that alone
    takes a quarter of the memory cannot run; refused before anything is allocated.
    """
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on every OS
        return
    need = height * width * channels * count * 4
    if need > memory // 4:
        raise EdgesegError(f"{where}: {count} x {height} x {width} x {channels} float32 inputs take {need / 2**30:.1f} GiB, "
                           f"more than a quarter of this machine's {memory / 2**30:.1f} GiB; choose a smaller size")

