"""Latency benchmarks: timing loops, statistics, baselines, A/B trials, plots, pytest integration."""
