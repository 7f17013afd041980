"""``--plot``: latency distributions as empirical CDFs with p50/p90/p99 marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg.atomic import atomic_path
from edgeseg.errors import require


def plot_latencies(path: str | Path, current: tuple[list[float], str], other: tuple[list[float], str] | None = None) -> None:
    """Write a PNG: CDF of each latency list (ms) with its percentiles as dashed lines."""
    matplotlib = require("matplotlib", "bench")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for (values, label), colour in zip([current, *([other] if other else [])], ("tab:blue", "tab:orange")):
        x = np.sort(np.asarray(values, np.float64))
        y = np.arange(1, x.size + 1) / x.size
        ax.step(x, y, where="post", color=colour, label=f"{label} (n={x.size})")
        for q, style in ((50, "--"), (90, "-."), (99, ":")):
            v = np.percentile(x, q)
            ax.axvline(v, color=colour, linestyle=style, linewidth=1)
            ax.annotate(f"p{q} {v:.2f}", (v, q / 100), color=colour, fontsize=7, xytext=(3, -10), textcoords="offset points")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of calls")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
