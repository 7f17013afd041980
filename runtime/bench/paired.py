"""Interleaved A/B timing of two open backends and the paired ratio B/A (``--against``, ``--check`` with a reference).

A trial times A then B (or B then A: ABBA order) back to back; the ratio of
their trial statistics is one paired sample. The machine's slow drift
(clocks, other tenants, thermal) is common to both halves of a pair and
cancels in the ratio, which separate runs cannot do (docs/ci.md has the
measurements). A trial's statistic is its 25th percentile
(:data:`~.stats.BLOCK_QUANTILE`), as for blocks: interference from other
work only ever adds time, so the fast side of a trial follows the model's
own speed and a preempted call or two does not move it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .measure import TimingPlan, synthetic_frames, time_interleaved
from .stats import BLOCK_QUANTILE, RatioEstimate, paired_bootstrap_ratio


@dataclass
class PairedTiming:
    """Per-trial latencies (ms) of A and B, and the B/A ratio of per-trial statistics with its CI."""

    a_trials: list[list[float]]
    b_trials: list[list[float]]
    estimate: RatioEstimate

    @property
    def a_medians(self) -> list[float]:
        return self.a_statistics(0.5)

    @property
    def b_medians(self) -> list[float]:
        return self.b_statistics(0.5)

    def a_statistics(self, quantile: float = BLOCK_QUANTILE) -> list[float]:
        return [float(np.quantile(t, quantile)) for t in self.a_trials]

    def b_statistics(self, quantile: float = BLOCK_QUANTILE) -> list[float]:
        return [float(np.quantile(t, quantile)) for t in self.b_trials]


def time_pair(backend_a, backend_b, plan: TimingPlan, trials: int, confidence: float = 0.99,
              clock: str = "wall") -> PairedTiming:
    """Single-stream (one frame a call) interleaved trials of ``backend_a`` and ``backend_b``.

    Each backend gets synthetic uint8 N=1 x H x W x C frames of its own input shape;
    ``clock`` is ``wall`` or ``cpu`` (:data:`~.measure.CLOCKS`).
    """
    a_trials, b_trials = _interleave(backend_a, backend_b, plan, trials, clock)
    return _with_estimate(a_trials, b_trials, confidence)


def _interleave(backend_a, backend_b, plan: TimingPlan, trials: int, clock: str):
    inputs_a = synthetic_frames((1, *backend_a.input_shape[1:]))
    inputs_b = synthetic_frames((1, *backend_b.input_shape[1:]))
    return time_interleaved(backend_a.infer, backend_b.infer, inputs_a, inputs_b, plan, trials, clock)


def _with_estimate(a_trials: list[list[float]], b_trials: list[list[float]], confidence: float) -> PairedTiming:
    a = [float(np.quantile(t, BLOCK_QUANTILE)) for t in a_trials]
    b = [float(np.quantile(t, BLOCK_QUANTILE)) for t in b_trials]
    return PairedTiming(a_trials, b_trials, paired_bootstrap_ratio(a, b, confidence=confidence))


def time_pair_until_decided(backend_a, backend_b, plan: TimingPlan, trials: int, *, threshold: float,
                            confidence: float = 0.99, max_rounds: int = 4, clock: str = "wall") -> PairedTiming:
    """:func:`time_pair`, extended by another ``trials`` trials while the interval straddles ``threshold``.

    On a quiet machine the first round's interval lies clearly on one side of
    the threshold and nothing more is measured. On a loaded one the pairs are
    noisier; more pairs narrow the interval instead of leaving a real slowdown
    unreported (or a false alarm standing), up to ``max_rounds`` rounds in all.
    Trials of all rounds are pooled: pairs are exchangeable, each one ABBA-ordered.
    """
    timing = time_pair(backend_a, backend_b, plan, trials, confidence, clock)
    rounds = 1
    hot = replace(plan, warmup_s=min(plan.warmup_s, 0.2))  # both models are warm already
    while rounds < max_rounds and timing.estimate.low <= threshold <= timing.estimate.high:
        more_a, more_b = _interleave(backend_a, backend_b, hot, trials, clock)  # one bootstrap per round, below
        timing = _with_estimate(timing.a_trials + more_a, timing.b_trials + more_b, confidence)
        rounds += 1
    return timing


__all__ = ["PairedTiming", "time_pair", "time_pair_until_decided"]
