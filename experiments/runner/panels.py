"""Shared figure panels: a study's figures are compositions of these, one point per figure.

- `panels(n)`: a row of n axes of the lab's size;
- `metric_by_size(ax, rows, metric, title)`: a score against dictionary size per arm (rows of
  the results table, `experiments.runner.table`),
  mean over seeds with min–max bars; chance baselines dashed;
- `reference_line(ax, x, label)`: a vertical marker (e.g. the number of planted features);
- `matrix(ax, values, title)`: a [0, 1] heatmap;
- `finish(figure, axes, title, path)`: labels, legend, title, and the atomic save.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.runner import table
from sae.pipeline import BASELINE_KINDS


def panels(n: int, width: float = 4.5, height: float = 3.6, sharey: bool = False):
    """(figure, axes [n]) in one row."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, n, figsize=(width * n, height), sharey=sharey, squeeze=False)
    return figure, list(axes[0])


def by_kind_and_size(rows: list[table.Row], metric: str) -> dict:
    """{arm: (sizes, mean, min, max)} of a metric over seeds, from the results table's rows."""
    by_arm: dict[str, dict] = {}
    for (arm, size, _reader, _metric, _setting), summary in table.mean_over_seeds(table.select(rows, metric=metric)).items():
        by_arm.setdefault(arm, {})[size] = summary
    out = {}
    for arm, by_size in by_arm.items():
        sizes = sorted(by_size)
        out[arm] = (sizes, [by_size[s]["mean"] for s in sizes], [by_size[s]["min"] for s in sizes],
                    [by_size[s]["max"] for s in sizes])
    return out


def metric_by_size(ax, rows: list[table.Row], metric: str, title: str, x_scale: float = 1.0) -> None:
    """The metric against size (divided by x_scale) per arm, from the results table; baselines (chance) dashed."""
    for kind, (sizes, mean, low, high) in by_kind_and_size(rows, metric).items():
        style = dict(linestyle="--", marker="x") if kind in BASELINE_KINDS else dict(marker="o")
        ax.errorbar(np.asarray(sizes) / x_scale, mean, yerr=[np.subtract(mean, low), np.subtract(high, mean)],
                    label=kind, capsize=3, **style)
    ax.set_xscale("log", base=2)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def reference_line(ax, x: float, label: str | None = None) -> None:
    ax.axvline(x, color="0.75", lw=1, zorder=0, label=label)


def matrix(ax, values, title: str, xlabel: str = "", ylabel: str = ""):
    """A [0, 1] heatmap; returns the image (for a colour bar)."""
    image = ax.imshow(np.asarray(values, np.float32), vmin=0, vmax=1, cmap="viridis")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return image


def finish(figure, axes, title: str, path: Path, xlabel: str | None = None, ylabel: str | None = None,
           legend: bool = True) -> Path:
    """Shared labels, one legend (last panel), the title, and the atomic save (`runfolder.save_figure`)."""
    from experiments.runner.runfolder import save_figure

    for ax in axes:
        if xlabel is not None:
            ax.set_xlabel(xlabel)
    if ylabel is not None:
        axes[0].set_ylabel(ylabel)
    if legend:
        axes[-1].legend(loc="best", fontsize=8)
    figure.suptitle(title, y=1.03)
    return save_figure(figure, Path(path))
