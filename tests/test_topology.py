"""sae.readers.topology: Betti numbers of planted clouds, and thresholds that hold on nulls."""

import numpy as np
import pytest

from sae.readers import topology


def _embed(points, d, rng):
    basis, _ = np.linalg.qr(rng.standard_normal((d, points.shape[1])))
    return points @ basis.T + 0.03 * rng.standard_normal((len(points), d))


def _cloud(kind, rng, n=600):
    a, b = rng.uniform(0, 2 * np.pi, (2, n))
    if kind == "circle":
        return np.c_[np.cos(a), np.sin(a)]
    if kind == "sphere":
        v = rng.standard_normal((n, 3))
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    if kind == "torus":
        return np.c_[np.cos(a), np.sin(a), np.cos(b), np.sin(b)]
    if kind == "clusters":  # 5 well-separated blobs in a line: components, no loop
        return np.c_[rng.integers(0, 5, n) * 3.0, np.zeros(n)] + 0.05 * rng.standard_normal((n, 2))
    return rng.standard_normal((n, 3)) * [1.0, 0.6, 0.3]  # a blob


@pytest.mark.parametrize(
    "kind, shape", [("circle", "circle"), ("sphere", "sphere"), ("torus", "torus"), ("blob", "segment or blob"), ("clusters", "clusters")]
)
def test_planted_clouds_read_as_their_shape(kind, shape):
    rng = np.random.default_rng(0)
    read = topology.topology(_embed(_cloud(kind, rng), 12, rng))
    assert read.shape == shape, read


def test_too_few_points_read_nothing():
    assert topology.topology(np.zeros((5, 3))).shape == "n/a"


@pytest.mark.parametrize("q", [2, 3])
def test_stored_thresholds_agree_with_a_fresh_null_calibration(q):
    # The stored thresholds are 99th percentiles over 200 null clouds per intrinsic dimension;
    # a fresh run with 10 clouds (other seeds) must not exceed them by much, and they must not
    # sit below most of its values (which would make nulls report spurious bars).
    fresh = topology.calibrate_null_thresholds(q, n_clouds=10, quantile=0.5, seed=1)
    stored = topology.NULL_THRESHOLDS[q]
    for dimension in range(3 if q == 3 else 2):
        assert fresh[dimension] <= stored[dimension] <= 3.0 * fresh[dimension], (dimension, fresh, stored)


def test_structureless_clouds_rarely_show_loops():
    # the nulls the thresholds were set on (99th percentile): on 20 fresh ones, at most 2 spurious reads
    rng = np.random.default_rng(5)
    spurious = sum(
        topology.topology(topology.null_cloud(rng, 600, 2, kind)).betti[1] > 0 for kind in ("gaussian", "uniform") for _ in range(10)
    )
    assert spurious <= 2
