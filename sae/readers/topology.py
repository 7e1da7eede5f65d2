"""Shapes by topology: Betti numbers of a point cloud from persistent homology, against nulls.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n points, q the principal dimensions kept.

A point cloud (a group's reconstructions) is centred, projected on its top q = 4
principal directions (a circle needs 2, a sphere or a helix 3, a torus 4; directions
that hold only noise add no loops — and a scree elbow would drop a helix's small rise
and read it as a circle), reduced to at most `MAX_POINTS` landmarks by greedy
furthest-point sampling, and its Vietoris–Rips persistence diagrams in dimensions 0, 1, 2 are computed
with `ripser` (Bauer 2021; Tralie, Saul & Bar-On 2018).

A bar counts as a feature, not noise, when its persistence beats every bar that
structureless clouds of the same size and dimension produce:
- dimensions 1 and 2: the multiplicative persistence death/birth (Bobrowski, Kahle &
  Skraba 2017), which is scale-free, so no length scale has to be chosen;
- dimension 0 (components): the death of a finite bar over the median death of all
  finite bars (the typical gap between neighbours).
The thresholds are the 99th percentile, over `NULL_CLOUDS` null clouds (isotropic
Gaussian and uniform in a cube, half each, filling 2 … q of the q dimensions), of the
largest such value in each dimension (`calibrate_null_thresholds`; stored in
`NULL_THRESHOLDS`, rechecked by the tests), so a structureless cloud reports a spurious
bar in a given dimension about 1% of the time.

Betti numbers b_k = the number of bars above threshold (b_0 = 1 + the components' bars).
Shapes: b₁ = 1, b₂ = 0 "circle" (also a ring of clusters, such as days); b₁ = 0, b₂ = 1
"sphere"; b₁ = 2, b₂ = 1 "torus"; b₁ = b₂ = 0 with b₀ = 1 "segment or blob" (an arc, a
helix, a cloud); with b₀ ≥ 2 "clusters"; anything else "other".
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float

from toys.engine.shapes import AnyArray

MAX_POINTS = 150  # landmarks per cloud: ripser's cost grows fast with points in dimension 2
MIN_POINTS = 20  # fewer points than this: no shape is read ("n/a")
MAX_DIMENSIONS = 4  # principal directions the homology is computed in
NULL_CLOUDS = 200
NULL_QUANTILE = 0.99
SHAPES = ("circle", "sphere", "torus", "segment or blob", "clusters", "other")

# (components, dimension-1 ratio, dimension-2 ratio) by q (clouds with fewer than 4 coordinates are
# read in q < 4), from calibrate_null_thresholds(q, NULL_CLOUDS, seed=0); the 2-D nulls set the
# first two for every q. tests/test_topology.py recomputes a smaller version.
NULL_THRESHOLDS = {
    2: (5.32, 2.10, np.inf),
    3: (5.32, 2.10, 1.33),
    4: (5.32, 2.10, 1.33),
}


class Topology(NamedTuple):
    betti: tuple[int, int, int]  # (b₀, b₁, b₂)
    shape: str  # one of SHAPES, or "n/a" under MIN_POINTS points
    dimensions: int  # q, the principal dimensions the homology was computed in
    largest: tuple[float, float, float]  # the largest value per dimension (what the thresholds are compared to)


def _project(points, q: int) -> np.ndarray:
    points = np.asarray(points, np.float64)
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:q].T


def persistence_statistics(points: Float[AnyArray, "n q"], q: int, max_points: int = MAX_POINTS, seed: int = 0) -> list[np.ndarray]:
    """Per homology dimension 0, 1, 2 the values compared to the thresholds (module docstring):
    [finite H₀ deaths / their median, H₁ death/birth, H₂ death/birth] (dimension 2 empty when q = 2)."""
    import ripser

    cloud = _project(points, q)
    rng = np.random.default_rng(seed)
    if len(cloud) > 4 * max_points:  # furthest-point sampling is O(n · landmarks): thin huge clouds first
        cloud = cloud[rng.choice(len(cloud), 4 * max_points, replace=False)]
    n_perm = min(max_points, len(cloud))
    diagrams = ripser.ripser(cloud, maxdim=1 if q == 2 else 2, n_perm=n_perm)["dgms"]
    deaths = diagrams[0][np.isfinite(diagrams[0][:, 1]), 1]
    median = np.median(deaths) if len(deaths) else 1.0
    values = [deaths / max(median, 1e-12)]
    for diagram in diagrams[1:]:
        finite = diagram[np.isfinite(diagram[:, 1])]
        values.append(finite[:, 1] / np.maximum(finite[:, 0], 1e-12))
    while len(values) < 3:
        values.append(np.zeros(0))
    return values


def shape_name(betti) -> str:
    b0, b1, b2 = betti
    if b1 == 1 and b2 == 0:
        return "circle"
    if b1 == 0 and b2 == 1:
        return "sphere"
    if b1 == 2 and b2 == 1:
        return "torus"
    if b1 == 0 and b2 == 0:
        return "segment or blob" if b0 == 1 else "clusters"
    return "other"


def topology(points: Float[AnyArray, "n q"], max_points: int = MAX_POINTS, seed: int = 0, thresholds: dict | None = None) -> Topology:
    """Betti numbers and shape of a point cloud [n, d] (definitions in the module docstring),
    read in its top q = min(4, d) principal directions."""
    points = np.asarray(points, np.float64)
    if len(points) < MIN_POINTS:
        return Topology((0, 0, 0), "n/a", 0, (0.0, 0.0, 0.0))
    q = min(MAX_DIMENSIONS, points.shape[1])
    limits = (thresholds or NULL_THRESHOLDS)[max(q, 2)]
    values = persistence_statistics(points, q, max_points, seed)
    counts = [int(np.sum(v > limit)) for v, limit in zip(values, limits)]
    betti = (1 + counts[0], counts[1], counts[2])
    maxima = [float(v.max()) if len(v) else 0.0 for v in values]
    largest = (maxima[0], maxima[1], maxima[2])
    return Topology(betti, shape_name(betti), q, largest)


def null_cloud(rng, n: int, q: int, kind: str, intrinsic: int | None = None) -> np.ndarray:
    """A structureless cloud of n points in q dimensions: isotropic Gaussian or uniform in a cube,
    filling `intrinsic` ≤ q of them (the rest zero; default all q)."""
    intrinsic = q if intrinsic is None else intrinsic
    cloud = rng.normal(size=(n, intrinsic)) if kind == "gaussian" else rng.uniform(-1.0, 1.0, size=(n, intrinsic))
    return np.pad(cloud, ((0, 0), (0, q - intrinsic)))


def calibrate_null_thresholds(
    q: int, n_clouds: int = NULL_CLOUDS, quantile: float = NULL_QUANTILE, n_points: int = 4 * MAX_POINTS, seed: int = 0
) -> tuple[float, float, float]:
    """The per-dimension thresholds for clouds read in q dimensions: for each intrinsic
    dimension j = 2 … q, the `quantile` of the largest statistic per null cloud (n_clouds
    clouds of n_points points filling j of the q dimensions, Gaussian and uniform
    alternating); the largest over j. Why every j: the landmarks of a cloud that fills
    only 2 of 3 dimensions (a noisy sphere's surface, locally) leave larger spurious loops
    than a full 3-D blob does."""
    rng = np.random.default_rng(seed)
    thresholds = np.zeros(3)
    for intrinsic in range(2, q + 1):
        largest = np.zeros((n_clouds, 3))
        for i in range(n_clouds):
            cloud = null_cloud(rng, n_points, q, "gaussian" if i % 2 == 0 else "uniform", intrinsic)
            values = persistence_statistics(cloud, q, seed=i)
            largest[i] = [v.max() if len(v) else 0.0 for v in values]
        thresholds = np.maximum(thresholds, np.quantile(largest, quantile, axis=0))
    if q == 2:
        thresholds[2] = np.inf  # no dimension-2 homology is computed in a plane
    return (float(thresholds[0]), float(thresholds[1]), float(thresholds[2]))
