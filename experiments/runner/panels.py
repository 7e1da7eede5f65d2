"""Shared figure panels: a study's figures are compositions of these, one point per figure.

- `panels(n)`: a row of n axes of the lab's size (or rows of `columns`);
- `metric_by_size(ax, rows, metric, title)`: a score against dictionary size per arm (rows of
  the results table, `experiments.runner.table`),
  mean over seeds with min–max bars; chance baselines dashed;
- `metric_by_setting(ax, rows, metric, coordinate, title)`: a score against a numeric setting (a
  swept hyperparameter) per arm, band min–max, chance dashed, from the results table;
- `strip_by_setting(ax, rows, metric, coordinate, arms, title)`: every row's value per value of a
  setting coordinate (a toy, a cell), one jittered group per arm, with a second metric's values
  (a threshold) as short dotted dashes where given, from the results table;
- `spectrum(ax, rows, metric, coordinate, flag, title)`: one bar per value of a setting coordinate
  (a frequency), those whose setting `flag` is true coloured and named, from the results table;
- `bars_by_setting(ax, rows, metric, coordinate, title)`: a score per value of one setting
  coordinate (a frequency, a layer), one bar per arm, from the results table; chance hatched;
- `strip_by_arm(ax, rows, metric, flag, title)`: every row's value per arm, coloured where a flag
  row of the same place is true (a claim), from the results table;
- `bars_beside_reference(ax, rows, metric, arms, reference, title)`: a score per arm (mean ± std over
  seeds, from the results table) beside published values, chance dashed;
- `vectors_in_plane(ax, vectors, title)`: arrows from the origin (a matrix's columns in 2-D), short
  ones named in a note rather than drawn;
- `scatter_by_setting(ax, rows, metric, coordinate, title)`: every row's value at a numeric setting
  coordinate, from the results table; `levels(ax, {label: y})`: horizontal reference levels;
- `scatter_in_plane(ax, points, colour, title)`: points in a plane coloured by a label or phase;
- `curves(ax, {label: values}, title)`: curves over training (every run);
- `sample_histogram(ax, values, title)`: a sample's density beside a reference curve;
- `histogram(ax, rows, metric, title)`: the distribution of a metric's values beside its chance
  values (the same rows' chance), from the results table; a level marked where given;
- `reference_line(ax, x, label)`: a vertical marker (e.g. the number of planted features);
- `matrix(ax, values, title)`: a heatmap ([0, 1] unless told);
- `shares_by_metric(ax, rows, metrics, arms, title)`: per arm, each metric's share of the arm's total
  (units by category), bars side by side, from the results table;
- `rays(ax, directions, length)`: lines from the origin (directions in a plane);
- `grid_lines(ax, grid)`: a grid's rows and columns [side, side, 2] carried into a plane;
- `series_by_setting(ax, rows, metric, coordinate, series, title)`: named series of a metric over an
  ordered setting coordinate (a layer) or the dictionary size, each picked from the results table by
  its own fields;
- `bars_by_arm(ax, rows, metric, names, title)`: one bar per arm, its value written on it, from the
  results table;
- `forest(ax, parents, planted, depths, roots, title)`: a tree (parents per node) drawn on the planted
  tree's layout, its edges green where they are planted edges, red where not;
- `paired_strips(ax, rows, metrics, arms, colours)`: two metrics per arm side by side, every row a
  point, each group's mean a black bar, from the results table;
- `scatter_metrics(ax, rows, x, y, label)`: one metric against another, a point per row place;
- `centroid_loop(ax, points, labels)`: the per-label centroids of points in a plane, joined in label
  order and numbered; `empty(ax, text, title)`: a panel with nothing to draw, saying why;
- `plain_log_axis(ax)`: a log y axis labelled with plain numbers;
- `twin_series(ax, rows, metric, coordinate, label)`: a second quantity on a twin y axis;
- `bars_by_arm_and_setting(ax, rows, metric, coordinate, arms, title, labels)`: per arm, one bar per
  value of a setting coordinate (a task code);
- `key(figure, entries)`: one legend of marker and line entries for the whole figure;
- `heatmap_by_setting(ax, rows, metric, row, column, title)`: a metric over two coordinates (setting
  coordinates or the arm; e.g. gate × layer) from the results table, cells at a mark ticked, another
  metric written in each cell where asked;
- `counts_matrix(ax, counts, columns, lines, title)`: a confusion matrix with its counts written;
- `rate_bars(ax, rates, title)`: shares count/of as bars, the counts written on them;
- `finish(figure, axes, title, path)`: labels, legend, title, and the atomic save.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.runner import table
from sae.pipeline import BASELINE_KINDS


def panels(n: int, width: float = 4.5, height: float = 3.6, sharey: bool = False, columns: int | None = None):
    """(figure, axes [n]): in one row, or in rows of `columns` panels (axes in reading order)."""
    import matplotlib.pyplot as plt

    columns = n if columns is None else max(1, min(columns, n))
    lines = -(-n // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(width * columns, height * lines), sharey=sharey, squeeze=False)
    return figure, list(axes.ravel()[:n])


def by_kind_and_size(rows: list[table.Row], metric: str) -> dict:
    """{arm: (sizes, mean, min, max)} of a metric over seeds, from the results table's rows."""
    by_arm: dict[str, dict] = {}
    for (arm, size, _reader, _metric, _setting), summary in table.mean_over_seeds(table.select(rows, metric=metric)).items():
        by_arm.setdefault(arm, {})[size] = summary
    out = {}
    for arm, by_size in by_arm.items():
        sizes = sorted(by_size)
        out[arm] = (sizes, [by_size[s]["mean"] for s in sizes], [by_size[s]["min"] for s in sizes], [by_size[s]["max"] for s in sizes])
    return out


def metric_by_size(ax, rows: list[table.Row], metric: str, title: str, x_scale: float = 1.0) -> None:
    """The metric against size (divided by x_scale) per arm, from the results table; baselines (chance) dashed."""
    for kind, (sizes, mean, low, high) in by_kind_and_size(rows, metric).items():
        style = dict(linestyle="--", marker="x") if kind in BASELINE_KINDS else dict(marker="o")
        ax.errorbar(
            np.asarray(sizes) / x_scale, mean, yerr=[np.subtract(mean, low), np.subtract(high, mean)], label=kind, capsize=3, **style
        )
    ax.set_xscale("log", base=2)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def metric_by_setting(
    ax, rows: list[table.Row], metric: str, coordinate: str, title: str, styles: dict | None = None, labels: dict | None = None
) -> None:
    """The metric against a numeric setting coordinate (a swept hyperparameter), per arm: the mean over
    seeds with its min–max band, from the results table; the rows' chance as a dashed line. A
    coordinate spread over a factor ≥ 5 is read on a log axis. `styles` {arm: matplotlib style, "fmt"
    for the line's format} and `labels` {arm: legend label, None for none} where the defaults do not
    tell arms apart (a measurement beside its prediction)."""
    rows = [row for row in table.select(rows, metric=metric) if coordinate in row.setting and row.value is not None]
    for arm in dict.fromkeys(row.arm for row in rows):
        mine = [row for row in rows if row.arm == arm]
        xs = np.asarray(sorted({row.setting[coordinate] for row in mine}), np.float64)
        values = [[float(row.value) for row in mine if row.setting[coordinate] == x and row.value is not None] for x in xs]
        style = dict((styles or {}).get(arm, {}))
        line = ax.plot(xs, [np.mean(v) for v in values], style.pop("fmt", "o-"), label=(labels or {}).get(arm, arm), **style)[0]
        if any(len(v) > 1 for v in values):  # a band only where there is a spread
            ax.fill_between(xs, [np.min(v) for v in values], [np.max(v) for v in values], alpha=0.3, color=line.get_color())
        chance = [float(row.chance) for row in mine if row.chance is not None]
        if chance:
            ax.axhline(np.mean(chance), color="0.5", ls="--", lw=1, label="chance" if arm == rows[0].arm else None)
        if len(xs) and np.all(xs > 0) and xs.max() / max(xs.min(), 1e-12) >= 5:
            ax.set_xscale("log")
    ax.set_xlabel(coordinate)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


def strip_by_arm(
    ax,
    rows: list[table.Row],
    metric: str | tuple[str, ...],
    flag: str | None,
    title: str,
    flagged_colour: str = "#b5533c",
    colours: dict | None = None,
    colour: str | dict = "#777777",
    marker: str = "o",
    label: str | None = None,
    arms: tuple[str, ...] = (),
) -> None:
    """Every row's value of `metric` (or of any of several metrics, e.g. a null's top and a truth's best)
    as a point per arm (a jittered strip, arms in order of appearance) in `colour` (one, or one per arm),
    or, where the row of the same place has `flag` true (e.g. claimed), in `flagged_colour`
    (`colours[arm]` where given); `arms` fixes the arms' order and places (an arm without points keeps its
    place). Called again with another metric, it overlays a second strip."""
    flags = {}
    if flag is not None:
        flags = {(row.arm, row.size, row.seed, row.reader, row.coordinates()): bool(row.value) for row in table.select(rows, metric=flag)}
    metrics = (metric,) if isinstance(metric, str) else metric
    points = [row for row in rows if row.metric in metrics and row.value is not None]
    order = list(arms) or list(dict.fromkeys(row.arm for row in points))
    for index, arm in enumerate(order):
        mine = [row for row in points if row.arm == arm]
        if not mine:
            continue
        flagged = [flags.get((row.arm, row.size, row.seed, row.reader, row.coordinates()), False) for row in mine]
        chosen = (colours or {}).get(arm, flagged_colour)
        ax.scatter(
            index + (np.linspace(-0.25, 0.25, len(mine)) if len(mine) > 1 else np.zeros(1)),  # one point: on its tick
            [row.value for row in mine],
            s=10 if marker == "o" else 24,
            c=[chosen if f else (colour.get(arm, "#777777") if isinstance(colour, dict) else colour) for f in flagged],
            marker=marker,
            label=label if index == 0 else None,
        )
    ax.set_xticks(range(len(order)), [arm.replace(" ", "\n") for arm in order], fontsize=7)
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def strip_by_setting(
    ax,
    rows: list[table.Row],
    metric: str,
    coordinate: str,
    arms: tuple[str, ...],
    title: str,
    colours: dict | None = None,
    marker=None,
    dashes: str | None = None,
) -> list:
    """Every row's value of `metric` at x = the place of its setting `coordinate` (values in order of
    appearance), arms side by side within a place in `colours[arm]`; `marker(row)` picks a row's marker
    (default a dot); `dashes`: a metric whose value for the same row place is drawn as a short dotted
    dash (a threshold). Returns the coordinate's values in x order (for tick labels)."""
    places = list(dict.fromkeys(row.setting[coordinate] for row in rows if coordinate in row.setting))
    levels = {}
    if dashes is not None:
        levels = {(r.arm, r.seed, r.coordinates()): r.value for r in table.select(rows, metric=dashes)}
    picked = [row for row in table.select(rows, metric=metric) if coordinate in row.setting and row.value is not None]
    width = 0.66 / max(len(arms), 1)
    for j, arm in enumerate(arms):
        colour = (colours or {}).get(arm, f"C{j}")
        for i, place in enumerate(places):
            mine = [row for row in picked if row.arm == arm and row.setting[coordinate] == place]
            x = i + (j - (len(arms) - 1) / 2) * width + np.linspace(-0.04, 0.04, len(mine))
            for k, row in enumerate(mine):
                ax.scatter(x[k], row.value, color=colour, s=18, marker=marker(row) if marker else "o", label=arm if i == k == 0 else None)
                level = levels.get((row.arm, row.seed, row.coordinates()))
                if level is not None:
                    ax.hlines(level, x[k] - 0.08, x[k] + 0.08, color=colour, lw=1, ls=":")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    return places


def spectrum(
    ax, rows: list[table.Row], metric: str, coordinate: str, flag: str, title: str, colour: str = "C3", named: bool = True
) -> None:
    """One bar per value of a numeric setting coordinate (x = the value, e.g. a frequency): the metric's
    mean there; bars whose setting `flag` is true in `colour` (each named above it where `named`), the
    rest grey."""
    picked = [row for row in table.select(rows, metric=metric) if coordinate in row.setting and row.value is not None]
    xs = sorted({row.setting[coordinate] for row in picked})
    heights = [float(np.mean([row.value for row in picked if row.setting[coordinate] == x])) for x in xs]
    flagged = {row.setting[coordinate] for row in picked if row.setting.get(flag)}
    ax.bar(xs, heights, color=[colour if x in flagged else "0.6" for x in xs])
    for x, height in zip(xs, heights):
        if named and x in flagged:
            ax.annotate(str(x), (x, height), ha="center", va="bottom", fontsize=8)
    ax.set_title(title, fontsize=10)


def bars_by_setting(ax, rows: list[table.Row], metric: str, coordinate: str, title: str, arms: tuple[str, ...] = ()) -> None:
    """The metric per value of one setting coordinate (x, e.g. a frequency), one bar per arm (mean over
    seeds; the arms in `arms` order, else as they come), from the results table; chance arms hatched."""
    rows = [row for row in table.select(rows, metric=metric) if coordinate in row.setting and row.value is not None]
    positions = sorted({row.setting[coordinate] for row in rows})
    order = list(arms) or list(dict.fromkeys(row.arm for row in rows))
    width = 0.8 / max(len(order), 1)
    for i, arm in enumerate(order):
        mine = [row for row in rows if row.arm == arm]
        heights = [np.mean([row.value for row in mine if row.setting[coordinate] == x] or [np.nan]) for x in positions]
        ax.bar(
            np.arange(len(positions)) + i * width,
            heights,
            width,
            label=arm,
            hatch="//" if arm in BASELINE_KINDS else None,
            alpha=0.6 if arm in BASELINE_KINDS else 1.0,
        )
    ax.set_xticks(np.arange(len(positions)) + 0.4 - width / 2, [str(x) for x in positions])
    ax.set_xlabel(coordinate)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")


def bars_beside_reference(
    ax,
    rows: list[table.Row],
    metric: str,
    arms: tuple[str, ...],
    reference: dict,
    title: str,
    labels: tuple[str, str] = ("this run", "published"),
) -> None:
    """Per arm of `arms`, the metric's mean ± std over seeds (the results table's rows) beside a
    reference value {arm: (mean, std)} (e.g. a published table; an arm without one gets no bar); the
    rows' chance as a dashed line."""
    picked = [row for row in table.select(rows, metric=metric) if row.value is not None]
    x = np.arange(len(arms))
    ours = [[float(row.value or 0.0) for row in picked if row.arm == arm] for arm in arms]
    ax.bar(
        x - 0.2, [np.mean(v) if v else np.nan for v in ours], 0.4, yerr=[np.std(v) if v else 0 for v in ours], label=labels[0], capsize=3
    )
    published = [reference.get(arm, (np.nan, 0.0)) for arm in arms]
    ax.bar(x + 0.2, [p[0] for p in published], 0.4, yerr=[p[1] for p in published], label=labels[1], capsize=3, color="0.6")
    chance = [row.chance for row in picked if row.arm in arms and row.chance is not None]
    if chance:
        ax.axhline(float(np.mean(chance)), color="k", ls="--", lw=1, label="random dictionary (chance)")
    ax.set_xticks(x, arms, rotation=20)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")


def vectors_in_plane(ax, vectors, title: str, shortest: float = 0.3, limit: float = 1.5) -> None:
    """Vectors [2, n] (columns, e.g. W's) as numbered arrows from the origin in [−limit, limit]²; those of
    norm ≤ `shortest` would overlap at the origin and are named in a note instead."""
    vectors = np.asarray(vectors, np.float64)
    colours = __import__("matplotlib").colormaps["viridis"](np.linspace(0, 0.9, vectors.shape[1]))
    short = [i for i in range(vectors.shape[1]) if np.linalg.norm(vectors[:, i]) <= shortest]
    for i in range(vectors.shape[1]):
        if i not in short:
            ax.annotate("", xy=vectors[:, i], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colours[i], lw=2))
            ax.text(*(vectors[:, i] * 1.12), str(i), ha="center", va="center", fontsize=8)
    if short:
        ax.text(0.02, 0.02, f"dropped (norm ≤ {shortest}): {', '.join(map(str, short))}", transform=ax.transAxes, fontsize=8, color="0.35")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    ax.set_title(title, fontsize=9)


def scatter_by_setting(
    ax,
    rows: list[table.Row],
    metric: str,
    coordinate: str,
    title: str,
    transform=None,
    marker: str = "o",
    colour: str = "tab:blue",
    size: float = 14,
    label: str | None = None,
) -> None:
    """Every row's value of `metric` at x = its setting `coordinate` (through `transform`, e.g. 1/p), from
    the results table; called again with another metric, it overlays."""
    picked = [row for row in table.select(rows, metric=metric) if coordinate in row.setting and row.value is not None]
    x = np.asarray([row.setting[coordinate] for row in picked], np.float64)
    ax.scatter(transform(x) if transform else x, [row.value for row in picked], s=size, alpha=0.6, color=colour, marker=marker, label=label)
    ax.set_title(title, fontsize=9)


def levels(ax, named: dict, x: float | None = None) -> None:
    """Horizontal reference levels {label: y}, dotted, each labelled at x (default: the axis' left end)."""
    for label, level in named.items():
        ax.axhline(level, color="0.6", lw=0.8, linestyle=":")
        ax.text(ax.get_xlim()[0] if x is None else x, level, f" {label}", va="bottom", fontsize=8, color="0.4")


def scatter_in_plane(
    ax,
    points,
    colour,
    title: str,
    colour_label: str = "",
    cmap: str = "twilight",
    vmin: float | None = None,
    vmax: float | None = None,
    sizes=6,
    axes_shown: bool = True,
):
    """Points [n, 2] in a plane coloured by a label or a phase (a colour name: all alike; colour names: one
    per point), sized by
    `sizes` (a number or one per point), equal aspect; `axes_shown` False for an embedding whose
    coordinates mean nothing (a UMAP). Returns the collection (for a colour bar)."""
    points = np.asarray(points, np.float64)
    if isinstance(colour, str) or np.asarray(colour).dtype.kind in "UO":  # one colour, or one colour name per point
        image = ax.scatter(points[:, 0], points[:, 1], color=colour if isinstance(colour, str) else list(colour), s=sizes, alpha=0.8)
    else:
        image = ax.scatter(points[:, 0], points[:, 1], c=colour, cmap=cmap, s=sizes, alpha=0.7, vmin=vmin, vmax=vmax)
    if colour_label:
        ax.figure.colorbar(image, ax=ax, label=colour_label, fraction=0.046, pad=0.02)
    ax.set_title(title, fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")
    if not axes_shown:
        ax.set_xticks([])
        ax.set_yticks([])
    return image


def curves(ax, curves: dict, title: str, xlabel: str = "step", log: bool = True) -> None:
    """Curves over training, {label: values [steps] or [steps, runs]} (every run drawn, one colour per label)."""
    for i, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, np.float64).reshape(len(values), -1)
        for run in range(values.shape[1]):
            ax.plot(np.arange(len(values)), values[:, run], color=f"C{i}", lw=1, alpha=0.8, label=label if run == 0 else None)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


def sample_histogram(ax, values, title: str, label: str, curve: tuple | None = None, bins: int = 120) -> None:
    """The density of a sample (values [n]) beside a reference curve (x [k], density [k], its label)."""
    ax.hist(np.asarray(values, np.float64), bins=bins, density=True, alpha=0.6, label=label)
    if curve is not None:
        ax.plot(curve[0], curve[1], "k", label=curve[2])
    ax.set_title(title, fontsize=9)


def histogram(
    ax,
    rows: list[table.Row],
    metric: str,
    title: str,
    labels: tuple[str, str] = ("value", "chance"),
    bins=20,
    level: float | None = None,
    level_label: str | None = None,
) -> None:
    """Histograms of a metric's values and of the same rows' chance values (grey, beside, not pooled),
    from the results table; `level` (e.g. a claim threshold) as a dashed vertical line."""
    picked = [row for row in table.select(rows, metric=metric) if row.value is not None]
    chance = [float(row.chance) for row in picked if row.chance is not None]
    data, colours, names = [[float(row.value or 0.0) for row in picked]], ["#b5533c"], [labels[0]]
    if chance:
        data, colours, names = [*data, chance], [*colours, "#999999"], [*names, labels[1]]
    ax.hist(data, bins=bins, color=colours, label=names)
    if level is not None:
        ax.axvline(level, color="k", ls="--", lw=1, label=level_label)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")


def reference_line(ax, x: float, label: str | None = None) -> None:
    ax.axvline(x, color="0.75", lw=1, zorder=0, label=label)


def matrix(
    ax,
    values,
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    colour_bar: str | None = None,
    fontsize: float | None = None,
):
    """A heatmap of values [rows, columns] (row 0 at the top), on [vmin, vmax] (None: the data's range),
    with a colour bar where `colour_bar` names it; returns the image (for a shared colour bar)."""
    image = ax.imshow(np.asarray(values, np.float32), vmin=vmin, vmax=vmax, cmap="viridis", aspect="auto" if vmin is None else None)
    if colour_bar is not None:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, label=colour_bar)
    ax.set_title(title, fontsize=fontsize)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return image


def shares_by_metric(ax, rows: list[table.Row], metrics: tuple[str, ...], arms: dict, title: str) -> None:
    """Per arm of `arms` ({arm: colour}), each metric's value over the sum of the arm's values of all
    `metrics` (e.g. units per category: shares), bars side by side per metric, from the results table."""
    width = 0.8 / max(len(arms), 1)
    for i, (arm, colour) in enumerate(arms.items()):
        values = [table.mean(rows, arm=arm, metric=metric) or 0.0 for metric in metrics]
        total = max(sum(values), 1e-12)
        positions = np.arange(len(metrics)) + (i - (len(arms) - 1) / 2) * width
        ax.bar(positions, [v / total for v in values], width, color=colour, label=arm)
    ax.set_xticks(range(len(metrics)), [m.replace("_", "\n") for m in metrics], fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")


def rays(ax, directions, length: float, colour: str = "k") -> None:
    """Lines from the origin along directions [n, 2], each `length` long (over a scatter in the same plane)."""
    for direction in np.asarray(directions, np.float64):
        ax.plot([0, length * direction[0]], [0, length * direction[1]], color=colour, lw=0.8)


def grid_lines(ax, grid, every: int = 2, colour: str = "0.8") -> None:
    """Every `every`-th row and column of a grid [side, side, 2] (a plane's grid carried through a map)."""
    grid = np.asarray(grid, np.float64)
    for line in range(0, grid.shape[0], every):
        ax.plot(grid[line, :, 0], grid[line, :, 1], color=colour, lw=0.5)
        ax.plot(grid[:, line, 0], grid[:, line, 1], color=colour, lw=0.5)


def series_by_setting(
    ax, rows: list[table.Row], metric: str | None, coordinate: str, series: list[tuple], title: str, numeric: bool = False
) -> None:
    """Series of a metric over a coordinate (a setting coordinate, or "size": the dictionary size): each
    (label or None, fields to select its rows by, with an optional "setting" mapping and, where `metric`
    is None, its own "metric"; matplotlib style with an optional "fmt") one line, the mean of its rows at
    each place (gaps where none has a value). x: the coordinate's values themselves where `numeric`, else
    their places in order of first appearance (e.g. layers), ticked with the values."""

    def placed(row: table.Row) -> bool:
        return row.size is not None if coordinate == "size" else coordinate in row.setting

    places = list(dict.fromkeys(_place(row, coordinate) for row in rows if placed(row) and (metric is None or row.metric == metric)))
    if numeric:
        places = sorted(places)
    for label, where, style in series:
        where = {"metric": metric, **where} if metric is not None else dict(where)
        picked = [row for row in table.select(rows, where.pop("setting", None), **where) if placed(row) and row.value is not None]
        means = [np.mean([row.value for row in picked if _place(row, coordinate) == place] or [np.nan]) for place in places]
        style = dict(style)
        fmt = (style.pop("fmt"),) if "fmt" in style else ()
        ax.plot(places if numeric else list(range(len(places))), means, *fmt, label=label, **style)
    if not numeric:
        ax.set_xticks(range(len(places)), [str(place) for place in places])
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


def twin_series(ax, rows: list[table.Row], metric: str, coordinate: str, label: str, setting: dict | None = None, log: bool = True) -> None:
    """The metric over a numeric setting coordinate on a second y axis (orange, log unless told), from the
    results table: a second quantity over the same x as the bars or points of `ax`."""
    picked = sorted((row.setting[coordinate], row.value) for row in table.select(rows, setting, metric=metric) if coordinate in row.setting)
    twin = ax.twinx()
    twin.plot([x for x, _ in picked], [v for _, v in picked], color="C1", marker=".")
    if log:
        twin.set_yscale("log")
    twin.set_ylabel(label, color="C1")


def bars_by_arm_and_setting(
    ax, rows: list[table.Row], metric: str, coordinate: str, arms: tuple[str, ...], title: str, labels: dict
) -> None:
    """Per arm of `arms` (x), one bar per value of a setting coordinate (`labels`: {value: legend label},
    in that order), the metric's mean over the rows; a gap where there is none. From the results table."""
    width = 0.8 / max(len(labels), 1)
    for i, (value, label) in enumerate(labels.items()):
        heights = [table.mean(rows, {coordinate: value}, arm=arm, metric=metric) for arm in arms]
        positions = np.arange(len(arms)) + (i - (len(labels) - 1) / 2) * width
        ax.bar(positions, [np.nan if h is None else h for h in heights], width, label=label)
    ax.set_xticks(range(len(arms)), [arm.replace("_", "\n") for arm in arms], fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")


def bars_by_arm(
    ax, rows: list[table.Row], metric: str, names: dict, title: str, colours: tuple = (), written: bool = True, alpha: float = 1.0
) -> None:
    """One bar per arm of `names` ({arm: its label}) with the metric's mean over the rows (its value
    written above it unless told not to), from the results table."""
    values = [table.mean(rows, arm=arm, metric=metric) or 0.0 for arm in names]
    ax.bar(list(names.values()), values, color=list(colours) or None, alpha=alpha)
    for i, value in enumerate(values if written else ()):
        ax.text(i, value + 0.01, f"{value:.3f}", ha="center", fontsize=9)
    ax.set_title(title, fontsize=9)


def _subforest(parents: np.ndarray, n_roots: int) -> np.ndarray:
    """The first n_roots roots of a forest (parents per node, −1 at a root) and all their descendants."""
    keep = np.zeros(len(parents), bool)
    keep[np.flatnonzero(parents < 0)[:n_roots]] = True
    for _ in range(len(parents)):
        grown = keep | ((parents >= 0) & keep[np.maximum(parents, 0)])
        if (grown == keep).all():
            break
        keep = grown
    return np.flatnonzero(keep)


def _layout(parents: np.ndarray, depths: np.ndarray, nodes: np.ndarray) -> dict:
    """(x, y) per node of a subforest: leaves evenly spaced, parents above their children's mean, y = −depth."""
    children: dict[int, list[int]] = {}
    for node in nodes:
        if parents[node] >= 0:
            children.setdefault(int(parents[node]), []).append(int(node))
    position: dict[int, tuple] = {}
    next_leaf = [0.0]

    def place(node):
        kids = children.get(node, [])
        if kids:
            for kid in kids:
                place(kid)
            position[node] = (np.mean([position[kid][0] for kid in kids]), -depths[node])
        else:
            position[node] = (next_leaf[0], -depths[node])
            next_leaf[0] += 1.0

    for root in nodes[parents[nodes] < 0]:
        place(int(root))
        next_leaf[0] += 0.8  # a gap between trees
    return position


def forest(ax, parents, planted, depths, roots: int, title: str) -> None:
    """The first `roots` planted trees' nodes on the planted layout, with the edges `parents` [n] draws
    between them (−1: no parent): green where the planted tree [n] has that edge, red where not."""
    parents, planted, depths = np.asarray(parents), np.asarray(planted), np.asarray(depths)
    nodes = _subforest(planted, roots)
    position, shown = _layout(planted, depths, nodes), set(nodes.tolist())
    for child in nodes:
        parent = int(parents[child])
        if parent < 0 or parent not in shown:
            continue
        (x0, y0), (x1, y1) = position[parent], position[child]
        ax.plot([x0, x1], [y0, y1], color="tab:green" if parent == planted[child] else "tab:red", lw=1.2, alpha=0.9, zorder=1)
    xy = np.array([position[node] for node in nodes])
    ax.scatter(xy[:, 0], xy[:, 1], s=18, c="0.25", zorder=2)
    levels = sorted({-int(d) for d in depths[nodes]})
    ax.set_yticks(levels, [f"depth {-t}" for t in levels], fontsize=9)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)


def paired_strips(ax, rows: list[table.Row], metrics: tuple[str, str], arms: list[str], colours: dict) -> None:
    """Per arm, the rows' values of two metrics side by side (left, right of the arm's tick), every row a
    jittered point (the first metric's faint, dots; the second's triangles), each group's mean a black bar."""
    for i, arm in enumerate(arms):
        for shift, metric, marker in ((-0.2, metrics[0], "o"), (0.2, metrics[1], "^")):
            values = np.array([row.value for row in table.select(rows, arm=arm, metric=metric) if row.value is not None], np.float64)
            jitter = np.random.default_rng(i).uniform(-0.12, 0.12, len(values))
            alpha = 0.5 if metric == metrics[0] else 1.0
            ax.scatter(i + shift + jitter, values, s=6, color=colours.get(arm, "0.3"), marker=marker, zorder=2, alpha=alpha)
            if len(values):
                ax.hlines(values.mean(), i + shift - 0.15, i + shift + 0.15, color="k", lw=2, zorder=3)
    ax.grid(alpha=0.3, axis="y")


def scatter_metrics(ax, rows: list[table.Row], x: str, y: str, label: str | None = None) -> None:
    """Metric y against metric x, one point per row place (arm, size, seed, setting) holding both."""
    xs = {(r.arm, r.size, r.seed, r.coordinates()): r.value for r in table.select(rows, metric=x)}
    pairs = [(xs[key], r.value) for r in table.select(rows, metric=y) if (key := (r.arm, r.size, r.seed, r.coordinates())) in xs]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    ax.scatter([a for a, _ in pairs], [b for _, b in pairs], label=label)


def centroid_loop(ax, points, labels) -> None:
    """The centroids of points [n, 2] per label [n], joined in label order (closed) and numbered."""
    points, labels = np.asarray(points, np.float64), np.asarray(labels)
    present = np.unique(labels)
    centroids = np.stack([points[labels == v].mean(axis=0) for v in present])
    loop = np.vstack([centroids, centroids[:1]])
    ax.plot(loop[:, 0], loop[:, 1], "-", color="0.2", lw=0.8, zorder=3)
    for v, (cx, cy) in zip(present, centroids):
        ax.annotate(
            str(v),
            (cx, cy),
            fontsize=6,
            ha="center",
            va="center",
            zorder=4,
            bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec="0.2", lw=0.5),
        )


def empty(ax, text: str, title: str = "") -> None:
    """A panel with nothing to draw: the reason in its middle."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def plain_log_axis(ax) -> None:
    """A log y axis with ticks at 1, 2, 5 × 10^k written as plain numbers (0.05, 0.1, 0.2), no minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def key(figure, entries: list[tuple[str, str, str]], columns: int | None = None) -> None:
    """One legend for the whole figure, below it: entries (label, colour, "marker" or "line")."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="o", color=colour, label=label) if kind == "marker" else Line2D([], [], color=colour, label=label)
        for label, colour, kind in entries
    ]
    figure.legend(handles=handles, loc="upper center", ncol=columns or len(handles), fontsize=8, bbox_to_anchor=(0.5, 0.0))


def _place(row: table.Row, coordinate: str):
    """A row's value of a coordinate: its arm for "arm", its dictionary size for "size", else its setting's."""
    return row.arm if coordinate == "arm" else row.size if coordinate == "size" else row.setting[coordinate]


def heatmap_by_setting(
    ax,
    rows: list[table.Row],
    metric: str,
    row: str,
    column: str,
    title: str,
    row_label=None,
    column_names: dict | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap="viridis",
    mark_at: float | None = None,
    text: tuple[str, str] | None = None,
):
    """The metric over two coordinates from the results table (setting coordinates, or "arm"): one line
    per value of `row` (labelled by the setting coordinate `row_label`, or by `row_label(row)`,
    where given), one column per value of `column` (named by `column_names` where given); numeric
    values sorted, arms in order of appearance; `cmap` a colormap or a list of colours (one per level);
    a cell with no row is blank; cells ≥ `mark_at` ticked;
    `text` = (metric, format) writes another metric of the same place in each cell."""
    picked = [r for r in table.select(rows, metric=metric) if r.value is not None and (row == "arm" or row in r.setting)]
    picked = [r for r in picked if column == "arm" or column in r.setting]

    def ordered(name: str) -> list:
        values = list(dict.fromkeys(_place(r, name) for r in picked))
        return values if name == "arm" else sorted(values)

    lines, columns = ordered(row), ordered(column)
    values = np.full((len(lines), len(columns)), np.nan)
    labels = {}
    for r in picked:
        values[lines.index(_place(r, row)), columns.index(_place(r, column))] = float(r.value or 0.0)
        place = _place(r, row)
        labels[place] = row_label(r) if callable(row_label) else r.setting.get(row_label, place) if row_label else place
    if isinstance(cmap, (list, tuple)):  # colours, one per level
        from matplotlib.colors import ListedColormap

        cmap = ListedColormap(list(cmap))
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    if mark_at is not None:
        for (i, j), value in np.ndenumerate(values):
            if value >= mark_at:
                ax.annotate("✓", (j, i), ha="center", va="center", color="w", fontsize=7)
    if text is not None:
        for r in table.select(rows, metric=text[0]):
            if r.value is not None and _place(r, row) in lines and _place(r, column) in columns:
                i, j = lines.index(_place(r, row)), columns.index(_place(r, column))
                ax.text(j, i, format(r.value, text[1]), ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(columns)), [str((column_names or {}).get(c, c)) for c in columns])
    ax.set_yticks(range(len(lines)), [str(labels[line]) for line in lines], fontsize=7 if len(lines) < 30 else 6)
    ax.set_title(title, fontsize=9)
    return image


def counts_matrix(ax, counts, columns: list[str], lines: list[str], title: str) -> None:
    """A confusion matrix of counts [lines, columns] (what was planted × what was read), each count written."""
    counts = np.asarray(counts)
    ax.imshow(counts, cmap="Greens", aspect="auto")
    for (i, j), count in np.ndenumerate(counts):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color="white" if count > counts.max() / 2 else "black")
    ax.set_xticks(range(len(columns)), columns, fontsize=8, rotation=20)
    ax.set_yticks(range(len(lines)), lines, fontsize=8)
    ax.set_title(title, fontsize=9)


def rate_bars(ax, rates: list[tuple[str, dict, str]], title: str, level: float | None = None) -> None:
    """One bar per rate (label, {"count", "of"}, colour): its share, "count/of" written above it; a
    dashed level (e.g. α) where given."""
    values = [r["count"] / r["of"] if r["of"] else 0.0 for _, r, _ in rates]
    bars = ax.bar(range(len(rates)), values, color=[colour for _, _, colour in rates])
    for bar, (_, r, _) in zip(bars, rates):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, f"{r['count']}/{r['of']}", ha="center", fontsize=8)
    if level is not None:
        ax.axhline(level, color="0.5", lw=1, ls="--")
    ax.set_xticks(range(len(rates)), [name for name, _, _ in rates], fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_title(title, fontsize=9)


def finish(
    figure,
    axes,
    title: str,
    path: Path,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool = True,
    tight: bool = True,
    title_y: float | None = None,
) -> Path:
    """Shared labels, one legend (last panel), the layout (`tight`: off for a figure with colour bars
    placed by hand, which it would move onto the panels), the title, and the atomic save
    (`runfolder.save_figure`)."""
    from experiments.runner.runfolder import save_figure

    for ax in axes:
        if xlabel is not None:
            ax.set_xlabel(xlabel)
    if ylabel is not None:
        axes[0].set_ylabel(ylabel)
    if legend and axes[-1].get_legend_handles_labels()[0]:  # no empty legend box
        axes[-1].legend(loc="best", fontsize=8)
    if tight:
        figure.tight_layout()  # before the title: rows of panels keep their tick labels off the next row's titles
    if title_y is None:  # just above everything drawn so far (the panels' own titles), whatever the layout
        top = figure.get_tightbbox(figure.canvas.get_renderer()).y1  # inches
        title_y = (top + 0.05) / figure.get_figheight()
    figure.suptitle(title, y=title_y, va="bottom")
    return save_figure(figure, Path(path))
