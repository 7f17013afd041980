"""Timing loops for the single-stream and offline scenarios.

Host clocks (``perf_counter``) are read around ``backend.infer``, which is
synchronous for every backend (the TensorRT backend synchronises its stream
before returning), so the time covers the device work and the copies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgeseg.progress import timed_bar


@dataclass
class TimingPlan:
    """How long to measure: warm up for ``warmup_s``, then run until both
    ``min_iters`` iterations and ``min_time_s`` seconds have passed."""

    warmup_s: float = 1.0
    min_iters: int = 200
    min_time_s: float = 4.0
    max_iters: int = 1_000_000


@dataclass
class Samples:
    """Latencies in milliseconds in the order measured, and images per call."""

    latencies_ms: list[float] = field(default_factory=list)
    images_per_call: int = 1
    wall_s: float = 0.0


def synthetic_frames(shape: tuple[int, int, int, int], count: int = 8, seed: int = 0) -> list[np.ndarray]:
    """``count`` uint8 N x H x W x C batches of noise: CNN latency does not depend on content."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(count)]


def time_calls(call: Callable[[np.ndarray], object], inputs: list[np.ndarray], plan: TimingPlan,
               images_per_call: int = 1) -> Samples:
    """Warm up, then time ``call`` cycling over ``inputs`` per :class:`TimingPlan`."""
    clock = time.perf_counter
    end_warmup = clock() + plan.warmup_s
    i = 0
    while clock() < end_warmup:
        call(inputs[i % len(inputs)])
        i += 1
    samples = Samples(images_per_call=images_per_call)
    start = clock()
    n = 0
    with timed_bar("measuring", plan.min_time_s):  # a thread ticks the bar: nothing added per call
        while n < plan.max_iters and (n < plan.min_iters or clock() - start < plan.min_time_s):
            x = inputs[n % len(inputs)]
            t0 = clock()
            call(x)
            samples.latencies_ms.append((clock() - t0) * 1000.0)
            n += 1
    samples.wall_s = clock() - start
    return samples


# What a per-call time is read from. ``wall``: elapsed time, the latency a user sees. ``cpu``: this
# process's CPU time over all its threads (CLOCK_PROCESS_CPUTIME_ID): time the scheduler gave another
# job does not count, so on a loaded CPU it follows the model's own work; meaningless for a GPU.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_interleaved(call_a: Callable, call_b: Callable, inputs_a: list[np.ndarray], inputs_b: list[np.ndarray],
                     plan: TimingPlan, trials: int, clock_name: str = "wall") -> tuple[list[list[float]], list[list[float]]]:
    """A/B trials back to back, alternating ABBA order; returns per-trial times per call (milliseconds).

    Each side gets ``plan``'s budget on its own: at least ``min_iters`` calls
    and ``min_time_s`` seconds over all its trials (calls per trial sized from
    the warm-up's speed), after ``warmup_s`` of warm-up each, taken in
    alternating chunks so both models are hot when timing starts. Alternating
    the order cancels a linear drift within each pair of trials. ``clock_name``
    picks the per-call clock (:data:`CLOCKS`); the warm-up is always sized in wall time.
    """
    clock = time.perf_counter
    call_clock = CLOCKS[clock_name]
    seconds_per_call = []
    for call, inputs in ((call_a, inputs_a), (call_b, inputs_b)):
        call(inputs[0])  # first call: lazy initialisation, not timed
    for chunk in range(4):
        for call, inputs in ((call_a, inputs_a), (call_b, inputs_b)):
            end = clock() + plan.warmup_s / 4
            n, start = 0, clock()
            while clock() < end or n == 0:
                call(inputs[n % len(inputs)])
                n += 1
            if chunk == 3:
                seconds_per_call.append((clock() - start) / n)
    fastest = min(seconds_per_call)  # sized so that the faster side, too, is timed for min_time_s
    per_trial = max(5, -(-plan.min_iters // trials), int(np.ceil(plan.min_time_s / fastest / trials)))
    a_trials: list[list[float]] = []
    b_trials: list[list[float]] = []
    for t in range(trials):
        order = ((call_a, inputs_a, a_trials), (call_b, inputs_b, b_trials))
        if t % 2:
            order = order[::-1]
        for call, inputs, sink in order:
            lat = []
            for k in range(per_trial):
                x = inputs[k % len(inputs)]
                t0 = call_clock()
                call(x)
                lat.append((call_clock() - t0) * 1000.0)
            sink.append(lat)
    return a_trials, b_trials
