"""``--plot``: latency distributions as empirical CDFs with p50/p90/p99 marked, and the verdict as the title.

The percentile values are written in the legend, one line per curve, and
marked on the curves with symbols: text placed next to the lines overlapped
exactly when two curves were close, which is when a reader needs the numbers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.atomic import atomic_path
from edgeseg.errors import require

PERCENTILES = ((50, "o"), (90, "s"), (99, "^"))


def latency_figure(current: tuple[list[float], str], other: tuple[list[float], str] | None = None,
                   title: str | None = None) -> Any:
    """The matplotlib figure of :func:`plot_latencies` (the caller closes it)."""
    matplotlib = require("matplotlib", "bench")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    for (values, label), colour in zip([current, *([other] if other else [])], ("tab:blue", "tab:orange")):
        x = np.sort(np.asarray(values, np.float64))
        y = np.arange(1, x.size + 1) / x.size
        marks = {q: float(np.percentile(x, q)) for q, _ in PERCENTILES}
        numbers = ", ".join(f"p{q} {v:.2f}" for q, v in marks.items())
        ax.step(x, y, where="post", color=colour, label=f"{label} (n={x.size}): {numbers} ms")
        for q, marker in PERCENTILES:
            ax.plot([marks[q]], [q / 100], marker=marker, color=colour, markersize=6, linestyle="none")
    # one legend entry per marker shape, drawn in grey (the colours are the curves')
    for q, marker in PERCENTILES:
        ax.plot([], [], marker=marker, color="grey", linestyle="none", label=f"p{q}")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of calls")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, 95)), fontsize=9,
                     color="tab:red" if title.startswith("REGRESSION") else "black")
    fig.tight_layout()
    return fig


def plot_latencies(path: str | Path, current: tuple[list[float], str], other: tuple[list[float], str] | None = None,
                   title: str | None = None) -> None:
    """Write a PNG: CDF of each latency list (ms) with its p50/p90/p99; ``title`` is the verdict, if any."""
    import matplotlib.pyplot as plt

    fig = latency_figure(current, other, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
