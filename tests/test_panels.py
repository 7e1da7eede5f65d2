"""The shared figure panels draw what the results table holds: the right value in the right place.

Each test reads back what matplotlib was given (bar heights, image cells, line points) from rows whose
values are known, so a swapped axis, a lost normalisation or a wrong selection fails here."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from experiments.runner import panels, table  # noqa: E402


def _row(arm, metric, value, chance=None, size=None, seed=0, **setting):
    return table.Row(arm, metric, value, chance, size=size, seed=seed, reader="test", setting=setting)


@pytest.fixture
def ax():
    figure, axes = plt.subplots()
    yield axes
    plt.close(figure)


def test_heatmap_puts_each_value_in_its_row_and_column(ax):
    rows = [_row("probe", "score", 10 * gate + layer, gate=gate, layer=layer) for gate in range(3) for layer in range(2)]
    image = panels.heatmap_by_setting(ax, rows, "score", "gate", "layer", "", vmin=None, vmax=None)
    values = np.asarray(image.get_array())
    assert values.shape == (3, 2)  # rows: gates, columns: layers (a swapped axis fails)
    assert values[2, 1] == 21 and values[1, 0] == 10


def test_heatmap_reads_the_arm_as_a_coordinate(ax):
    rows = [_row(arm, "found", value, cell=0) for arm, value in (("recipe", 1.0), ("oracle", 0.0), ("random", 1.0))]
    image = panels.heatmap_by_setting(ax, rows, "found", "cell", "arm", "")
    assert np.asarray(image.get_array()).tolist() == [[1.0, 0.0, 1.0]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["recipe", "oracle", "random"]


def test_shares_are_each_arms_values_over_its_own_total(ax):
    rows = [_row("topk", "a", 3), _row("topk", "b", 1), _row("random", "a", 1), _row("random", "b", 1)]
    panels.shares_by_metric(ax, rows, ("a", "b"), {"topk": "C0", "random": "0.6"}, "")
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == pytest.approx([0.75, 0.25, 0.5, 0.5])


def test_a_series_against_size_draws_the_mean_over_seeds_at_each_size(ax):
    rows = [
        _row("topk", "m", v, size=s, seed=seed, circle="days") for s, values in ((8, (1, 3)), (16, (5, 7))) for seed, v in enumerate(values)
    ]
    rows.append(_row("topk", "m", 100, size=8, circle="months"))  # another circle: not selected
    panels.series_by_setting(ax, rows, "m", "size", [("days", {"arm": "topk", "setting": {"circle": "days"}}, {})], "", numeric=True)
    x, y = ax.lines[0].get_data()
    assert list(x) == [8, 16] and list(y) == [2.0, 6.0]


def test_strip_flags_the_rows_whose_flag_row_is_true(ax):
    rows = [
        _row("null", "top", 0.2, k=1),
        _row("null", "claimed", 0.0, k=1),
        _row("null", "top", 0.9, k=2),
        _row("null", "claimed", 1.0, k=2),
    ]
    panels.strip_by_arm(ax, rows, "top", "claimed", "", flagged_colour="#00ff00", colour="#000000")
    colours = ax.collections[0].get_facecolors()[:, :3]
    assert colours.tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]  # only the claimed one is green


def test_spectrum_colours_and_names_only_the_flagged_bars(ax):
    rows = [_row("network", "share", share, frequency=f, key=int(f == 2)) for f, share in ((1, 0.1), (2, 0.7), (3, 0.2))]
    panels.spectrum(ax, rows, "share", "frequency", "key", "")
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.1, 0.7, 0.2])
    assert [t.get_text() for t in ax.texts] == ["2"]


def test_histogram_keeps_values_and_chance_apart(ax):
    rows = [_row("null", "top", v, chance=c, cell=i) for i, (v, c) in enumerate(((0.8, 0.1), (0.9, 0.1), (0.85, 0.2)))]
    panels.histogram(ax, rows, "top", "", bins=np.linspace(0, 1, 11))
    counts = [sum(bar.get_height() for bar in container) for container in ax.containers]
    assert counts == [3, 3]  # three trained tops, three chance tops: never pooled into one
