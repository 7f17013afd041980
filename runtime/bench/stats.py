"""Latency statistics and the regression decision (numpy only).

A regression check must not cry wolf on a noisy machine, and must still catch
a real slowdown. A run is recorded as ``blocks``: consecutive groups of
iterations, each summarised by its median. Block medians are nearly
independent and absorb within-run drift (thermal, other processes), so a
bootstrap over blocks gives an honest confidence interval for the ratio of
medians between two runs.

The decision (:func:`decide`): ``tolerance`` is the slowdown a check must
catch. A slowdown is a regression when the ratio exceeds the midpoint
``1 + tolerance / 2`` (halfway between no change and the tolerance, where a
miss at the tolerance and a false alarm at equal speed are equally far from
the threshold) AND the whole confidence interval lies above 1 (the slowdown
is outside the run's own noise). Requiring the ratio to exceed the full
tolerance instead catches a slowdown of exactly the tolerance only half the
time, by symmetry.

The statistic of a block (:data:`BLOCK_QUANTILE`, :func:`block_statistics`)
is a low quantile rather than the median: on a CPU shared with other work,
interference only ever adds time, so the fast side of each block moves with
the model's own speed and much less with the load (measured by
``benchmarks/bench_check_reliability.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class LatencySummary:
    """Milliseconds: p50, p90, p99, max, mean, std (after no outlier removal: tails matter on devices)."""

    p50: float
    p90: float
    p99: float
    max: float
    min: float
    mean: float
    std: float
    count: int

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(latencies_ms) -> LatencySummary:
    """Summary of a 1-D array of latencies in milliseconds."""
    x = np.asarray(latencies_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no latency samples")
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return LatencySummary(float(p50), float(p90), float(p99), float(x.max()), float(x.min()),
                          float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0, int(x.size))


# The quantile of each block's latencies that `bench --check` compares (see the module docstring).
BLOCK_QUANTILE = 0.25
DEFAULT_BLOCKS = 20


def block_statistics(latencies_ms, blocks: int, quantile: float = BLOCK_QUANTILE) -> np.ndarray:
    """The ``quantile`` of each of ``blocks`` consecutive, equal-sized groups (the tail is folded into the last)."""
    x = np.asarray(latencies_ms, dtype=np.float64)
    blocks = max(1, min(blocks, x.size))
    return np.array([np.quantile(part, quantile) for part in np.array_split(x, blocks)])


def block_medians(latencies_ms, blocks: int) -> np.ndarray:
    """Medians of ``blocks`` consecutive, equal-sized groups (the tail is folded into the last)."""
    return block_statistics(latencies_ms, blocks, 0.5)


@dataclass
class RatioEstimate:
    """``ratio`` = median(current) / median(reference); > 1 means slower. CI at ``confidence``."""

    ratio: float
    low: float
    high: float
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_ratio(reference_blocks, current_blocks, *, confidence: float = 0.99, resamples: int = 4000,
                    seed: int = 0) -> RatioEstimate:
    """Ratio of medians of two sets of block medians, with a percentile bootstrap CI.

    The two sets are resampled independently (two separate runs).
    """
    ref = np.asarray(reference_blocks, np.float64)
    cur = np.asarray(current_blocks, np.float64)
    rng = np.random.default_rng(seed)
    ref_s = np.median(rng.choice(ref, (resamples, ref.size)), axis=1)
    cur_s = np.median(rng.choice(cur, (resamples, cur.size)), axis=1)
    ratios = cur_s / ref_s
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return RatioEstimate(float(np.median(cur) / np.median(ref)), float(low), float(high), confidence)


def paired_bootstrap_ratio(a_blocks, b_blocks, *, confidence: float = 0.99, resamples: int = 4000,
                           seed: int = 0) -> RatioEstimate:
    """Ratio B/A from interleaved trials: pair i of ``a_blocks``/``b_blocks`` ran back to back.

    Pairs are resampled together, so drift common to both cancels.
    """
    a = np.asarray(a_blocks, np.float64)
    b = np.asarray(b_blocks, np.float64)
    if a.shape != b.shape:
        raise ValueError("interleaved trials need the same number of blocks for A and B")
    pair_ratios = b / a
    rng = np.random.default_rng(seed)
    samples = np.median(rng.choice(pair_ratios, (resamples, pair_ratios.size)), axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return RatioEstimate(float(np.median(pair_ratios)), float(low), float(high), confidence)


@dataclass
class Decision:
    """Outcome of a regression check."""

    regression: bool
    estimate: RatioEstimate
    tolerance: float
    reason: str

    def to_dict(self) -> dict:
        return {"regression": self.regression, "tolerance": self.tolerance, "reason": self.reason,
                **self.estimate.to_dict()}


def decide(estimate: RatioEstimate, tolerance: float) -> Decision:
    """Regression iff ratio > 1 + tolerance / 2 and the CI's low end > 1 (see the module docstring)."""
    slower = (estimate.ratio - 1) * 100
    threshold = 1 + tolerance / 2
    ci = f"{estimate.confidence:.0%} CI [{estimate.low:.3f}, {estimate.high:.3f}]"
    if estimate.ratio > threshold and estimate.low > 1:
        return Decision(True, estimate, tolerance,
                        f"regression: {slower:+.1f} % latency (ratio {estimate.ratio:.3f}, {ci}) is past the midpoint "
                        f"{threshold:.3f} of the {tolerance:.0%} slowdown this check catches, and outside the run's noise")
    if estimate.ratio > threshold:
        why = f"ratio {estimate.ratio:.3f} is past the midpoint {threshold:.3f} but {ci} includes no slowdown (noise)"
    elif estimate.low > 1:
        why = (f"a significant but small slowdown ({slower:+.1f} %, {ci}), below the midpoint {threshold:.3f} "
               f"of the {tolerance:.0%} tolerance")
    else:
        why = f"{slower:+.1f} % latency (ratio {estimate.ratio:.3f}, {ci})"
    return Decision(False, estimate, tolerance, f"ok: {why}")
