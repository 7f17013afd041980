"""Run statistics stay bounded in memory and exact in their totals."""

import pytest

from edgeseg.runtime.run_stats import KEEP_FRAMES, FrameTimes, RunStats


def test_stats_are_bounded_and_totals_cover_the_whole_run():
    stats = RunStats()
    n = KEEP_FRAMES + 5000
    for i in range(n):
        # Frame i takes i ms from capture to output: mean over the run is (n - 1) / 2 ms.
        stats.captured()
        stats.add(FrameTimes(index=i, captured=i * 0.01, output=i * 0.01 + i / 1000.0, infer=0.002))
    assert len(stats.finished) == KEEP_FRAMES
    summary = stats.summary(dropped=0)
    assert summary["frames"] == n and summary["frames_in"] == n
    assert summary["latency_ms"]["mean"] == pytest.approx((n - 1) / 2)
    assert summary["latency_ms"]["max"] == pytest.approx(n - 1)
    assert summary["latency_ms"]["p50"] == pytest.approx(5000 + (KEEP_FRAMES - 1) / 2)  # the last KEEP_FRAMES
    assert summary["stage_ms"]["infer"] == pytest.approx(2.0)
