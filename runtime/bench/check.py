"""The ``--check`` decision: against the baseline's reference copy (interleaved), or its recorded latencies.

With a reference copy (:mod:`.reference`) the check times the copy and the
current build in interleaved trials and decides on the paired ratio: this
catches a 5 % slowdown on a machine whose speed drifts 2-3 % between runs.
Without one (an old baseline, ``--no-reference``, a non-single-stream
scenario) it compares against the latencies recorded when the baseline was
saved, which assumes the machine is as fast now as then.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError

from . import environment
from .paired import PairedTiming
from .stats import decide


def refuse_other_environment(baseline: dict[str, Any], env: dict[str, Any], *, compare_anyway: bool,
                             source: str) -> list[str]:
    """The environment differences; raise unless there are none or ``compare_anyway``."""
    diffs = environment.differences(baseline["environment"], env)
    if diffs and not compare_anyway:
        raise EdgesegError(
            f"{source} was recorded on a different environment; refusing to compare:\n  " + "\n  ".join(diffs)
            + "\nrecord a baseline on this machine (--save-baseline), or pass --compare-anyway"
        )
    return diffs


def decide_against_reference(paired: PairedTiming, baseline: dict[str, Any], reference: str | os.PathLike, *,
                             tolerance: float, diffs: list[str], clock: str = "wall") -> dict[str, Any]:
    """The decision from interleaved trials of the reference copy (A) and the current build (B), as a dict.

    Besides the verdict it records how fast the reference ran now against the
    latencies recorded with the baseline: the machine's own drift, which the
    paired ratio cancels and which is reported, not judged (wall clock only:
    the recorded latencies are wall time).
    """
    decision = decide(paired.estimate, tolerance)
    recorded = float(baseline["latency_ms"]["p50"])
    now = float(np.median(np.concatenate(paired.a_trials)))
    return {**decision.to_dict(), "mode": "interleaved with the reference copy", "clock": clock,
            "reference": str(reference), "trials": len(paired.a_trials), "calls_per_trial": len(paired.a_trials[0]),
            "reference_p50_now_over_recorded": now / recorded if clock == "wall" else None,
            "environment_differences": diffs}


__all__ = ["decide_against_reference", "refuse_other_environment"]
