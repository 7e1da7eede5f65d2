"""Superposition as geometry: feature dimensionality, and two features sharing one dimension.

Axes: m hidden dimensions, n features. W is [m, n]; column W_i is feature i's embedding.

Feature dimensionality (Elhage et al. 2022)
    D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²,    Ŵ_i = W_i / ‖W_i‖,
is the share of a hidden dimension feature i owns: 1 for a feature with a dimension to
itself, 1/2 for an antipodal pair, 2/5 for a pentagon, 0 for a dropped feature. For
every W, 0 ≤ D_i ≤ 1 and Σ_i D_i ≤ rank W (D_i = (W_iᵀW_i)²/(W_iᵀ M W_i) with M = WWᵀ, and
Cauchy–Schwarz gives D_i ≤ W_iᵀ M⁺ W_i, whose sum is tr(M⁺M) = rank W); an equal-norm
tight frame of k features in d dimensions gives D_i = d/k. Without the unit vector Ŵ_i
(the negative control) a short feature gets D_i = 1/‖W_i‖² > 1.

Two features in one dimension (the TMS set-up: x_i = U[0, 1] with probability p, else 0;
x̂ = ReLU(WᵀW x + b); loss Σ_i I_i E(x_i − x̂_i)², importances I = (1, r), r ≤ 1):
- antipodal pair W = (1, −1), b = 0: loss (1 + r) p²/6 (error min(x_1, x_2)² when both fire);
- ignore the less important one, W = (1, 0), b = (0, p/2): loss r(p/3 − p²/4) (its variance);
- antipodal wins iff p < 4r/(2 + 5r): at r = 1, p < 4/7.
`two_feature_loss` integrates any (W, b) numerically (midpoint rule on the unit square),
independently of the closed forms.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy import optimize

from theory.claims import Claim
from theory.random_vectors import gaussian_unit_frame


def feature_dimensionality(W, eps: float = 1e-12, normalise: bool = True):
    """D_i for each column of W [m, n] → [n]; a zero column (dropped feature) gets 0.

    A NumPy array is computed in NumPy (float64, as theory's claims need); anything else
    in jax.numpy (so it runs under `jax.vmap` and `jit`). `normalise=False` uses W_i
    instead of Ŵ_i in the overlaps (a broken definition, for the negative control).
    """
    xp = np if isinstance(W, np.ndarray) else jnp
    W = xp.asarray(W)
    norms_sq = xp.sum(W**2, axis=0)  # [n]
    direction = W / xp.sqrt(xp.maximum(norms_sq, eps)) if normalise else W  # Ŵ_i
    overlaps = direction.T @ W  # [n, n], (Ŵ_i · W_j)
    denominator = xp.sum(overlaps**2, axis=1)
    return xp.where(norms_sq > eps, norms_sq / xp.maximum(denominator, eps), 0.0)


def tight_frame_dimensionality(d: int, k: int) -> float:
    """D_i = d/k for k features forming an equal-norm tight frame in d dimensions."""
    return d / k


def harmonic_frame(d: int, k: int) -> np.ndarray:
    """An equal-norm tight frame of k > d unit columns in R^d, [d, k].

    Rows √(2/d) cos(2πjl/k) and √(2/d) sin(2πjl/k) for j = 1 … ⌊d/2⌋, plus the constant
    row √(1/d) when d is odd: orthogonal rows of equal norm k/d, so WWᵀ = (k/d) I.
    """
    if not 0 < d < k:
        raise ValueError(f"d: got {d}, allowed range [1, k − 1] (k = {k})")
    position = np.arange(k)
    rows = [np.full(k, np.sqrt(1.0 / d))] if d % 2 else []
    for j in range(1, d // 2 + 1):
        rows += [np.sqrt(2.0 / d) * np.cos(2 * np.pi * j * position / k), np.sqrt(2.0 / d) * np.sin(2 * np.pi * j * position / k)]
    return np.stack(rows)


def low_rank_features(rng: np.random.Generator, m: int, n: int, rank: int, dropped: int = 0, scale: float = 1.0) -> np.ndarray:
    """W [m, n] of rank ≤ `rank` with `dropped` zero columns, columns scaled to length `scale`."""
    W = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
    W *= scale / np.linalg.norm(W, axis=0)
    W[:, :dropped] = 0.0
    return W


# ---------------------------------------------------------------- two features in one dimension


def antipodal_loss(p, r=1.0):
    """(1 + r) p²/6."""
    return (1.0 + r) * np.asarray(p, np.float64) ** 2 / 6.0


def ignore_one_loss(p, r=1.0):
    """r (p/3 − p²/4): the dropped feature's variance, its bias set to the mean p/2."""
    p = np.asarray(p, np.float64)
    return r * (p / 3.0 - p**2 / 4.0)


def crossover_probability(r=1.0):
    """4r/(2 + 5r): antipodal has the lower loss exactly below it (4/7 at r = 1)."""
    return 4.0 * r / (2.0 + 5.0 * r)


ANTIPODAL = (np.array([[1.0, -1.0]]), np.zeros(2))


def ignore_one(p: float):
    return np.array([[1.0, 0.0]]), np.array([0.0, p / 2.0])


def two_feature_loss(W, b, p: float, r: float = 1.0, grid: int = 1000) -> float:
    """Σ_i I_i E(x_i − ReLU(WᵀW x + b)_i)² for two features, by cases and the midpoint rule.

    The four activation patterns are weighted (1−p)², p(1−p), p(1−p), p²; the active
    values are integrated on a `grid` × `grid` midpoint grid (error O(grid⁻²)).
    """
    W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
    importance = np.array([1.0, r])
    u = (np.arange(grid) + 0.5) / grid
    gram = W.T @ W

    def mean_error(x):  # x [points, 2] → E over the points of the weighted squared error
        x_hat = np.maximum(x @ gram + b, 0.0)
        return float(np.mean(((x - x_hat) ** 2) @ importance))

    zero = np.zeros((1, 2))
    first = np.stack([u, np.zeros(grid)], axis=1)
    second = first[:, ::-1]
    both = np.stack(np.meshgrid(u, u, indexing="ij"), axis=-1).reshape(-1, 2)
    return (1 - p) ** 2 * mean_error(zero) + p * (1 - p) * (mean_error(first) + mean_error(second)) + p**2 * mean_error(both)


def measured_crossover(r: float = 1.0, grid: int = 1000) -> float:
    """The p at which the integrated antipodal and ignore-one losses are equal (Brent's method)."""

    def gap(p):
        return two_feature_loss(*ANTIPODAL, p, r, grid) - two_feature_loss(*ignore_one(p), p, r, grid)

    return float(optimize.brentq(gap, 0.05, 0.95, xtol=1e-8))


# ---------------------------------------------------------------- claims


def _feature_matrix(instance: dict) -> np.ndarray:
    if "W" in instance:  # a given matrix (the property tests draw arbitrary ones)
        return np.asarray(instance["W"], np.float64)
    return low_rank_features(
        np.random.default_rng(instance["seed"]),
        instance["m"],
        instance["n"],
        instance["rank"],
        instance.get("dropped", 0),
        instance.get("scale", 1.0),
    )


def _dimensionalities(instance: dict, W) -> np.ndarray:
    return feature_dimensionality(np.asarray(W, np.float64), normalise=instance.get("normalise", True))


def _describe_features(instance: dict) -> str:
    if "W" in instance:
        return f"given W of shape {np.shape(instance['W'])}"
    knobs = ", without Ŵ_i" if not instance.get("normalise", True) else ""
    return (
        f"W [{instance['m']}, {instance['n']}] of rank {instance['rank']}, {instance.get('dropped', 0)} dropped, "
        f"column length {instance.get('scale', 1.0)}{knobs}"
    )


def _features_instance(quick: bool, seed: int) -> dict:
    return {"m": 20, "n": 100 if quick else 400, "rank": 12, "dropped": 10, "scale": 0.5, "seed": seed}


def _tight_frame(instance: dict) -> np.ndarray:
    if instance.get("random"):
        return gaussian_unit_frame(np.random.default_rng(instance.get("seed", 0)), instance["d"], instance["k"]).T
    return harmonic_frame(instance["d"], instance["k"])


CLAIMS = [
    Claim(
        id="dimensionality_at_most_one",
        statement="feature dimensionality D_i = ‖W_i‖²/Σ_j(Ŵ_i·W_j)² lies in [0, 1] (max_i D_i ≤ 1)",
        source="Elhage et al. 2022",
        relation="≤",
        predict=lambda inst: 1.0,
        measure=lambda inst: float(np.max(_dimensionalities(inst, _feature_matrix(inst)))),
        instance=_features_instance,
        describe=_describe_features,
        tolerance=lambda inst: 1e-9,
    ),
    Claim(
        id="dimensionality_capacity",
        statement="Σ_i D_i ≤ rank W",
        source="Elhage et al. 2022",
        relation="≤",
        predict=lambda inst: float(np.linalg.matrix_rank(_feature_matrix(inst))),
        measure=lambda inst: float(np.sum(_dimensionalities(inst, _feature_matrix(inst)))),
        instance=_features_instance,
        describe=_describe_features,
        tolerance=lambda inst: 1e-9 * _feature_matrix(inst).shape[1],
    ),
    Claim(
        id="tight_frame_dimensionality",
        statement="every feature of an equal-norm tight frame of k features in d dimensions has D_i = d/k",
        source="Elhage et al. 2022",
        relation="=",
        predict=lambda inst: tight_frame_dimensionality(inst["d"], inst["k"]),
        # the D_i farthest from d/k (so "=" fails if any feature is off)
        measure=lambda inst: _farthest(_dimensionalities(inst, _tight_frame(inst)), tight_frame_dimensionality(inst["d"], inst["k"])),
        instance=lambda quick, seed: {"d": 7, "k": 20} if quick else {"d": 31, "k": 100},
        describe=lambda inst: f"{'random unit' if inst.get('random') else 'harmonic'} frame, d={inst['d']}, k={inst['k']}",
        tolerance=lambda inst: 1e-9,
    ),
    Claim(
        id="two_features_antipodal_loss",
        statement="two features in one dimension as an antipodal pair lose (1 + r) p²/6",
        source="Elhage et al. 2022",
        relation="=",
        predict=lambda inst: float(antipodal_loss(inst["p"], inst.get("r", 1.0))),
        measure=lambda inst: two_feature_loss(*ANTIPODAL, inst["p"], inst.get("r", 1.0), inst["grid"]),
        instance=lambda quick, seed: {"p": 0.3, "r": 1.0, "grid": 1000 if quick else 2000},
        describe=lambda inst: f"p={inst['p']}, r={inst.get('r', 1.0)}, {inst['grid']}² midpoint grid",
        tolerance=lambda inst: 2.0 / inst["grid"] ** 2,
    ),
    Claim(
        id="two_features_ignore_one_loss",
        statement="ignoring the less important feature (bias at its mean) loses r (p/3 − p²/4)",
        source="Elhage et al. 2022",
        relation="=",
        predict=lambda inst: float(ignore_one_loss(inst["p"], inst.get("r", 1.0))),
        measure=lambda inst: two_feature_loss(*ignore_one(inst["p"]), inst["p"], inst.get("r", 1.0), inst["grid"]),
        instance=lambda quick, seed: {"p": 0.3, "r": 1.0, "grid": 1000 if quick else 2000},
        describe=lambda inst: f"p={inst['p']}, r={inst.get('r', 1.0)}, {inst['grid']}² midpoint grid",
        tolerance=lambda inst: 2.0 / inst["grid"] ** 2,
    ),
    Claim(
        id="two_features_crossover",
        statement="with equal importance, the antipodal pair beats ignoring one feature iff p < 4/7",
        source="Elhage et al. 2022",
        relation="=",
        predict=lambda inst: 4.0 / 7.0,
        measure=lambda inst: measured_crossover(inst.get("r", 1.0), inst["grid"]),
        instance=lambda quick, seed: {"r": 1.0, "grid": 1000 if quick else 2000},
        describe=lambda inst: f"r={inst.get('r', 1.0)}, root of the integrated loss gap",
        tolerance=lambda inst: 1e-4,
    ),
]


def _farthest(values: np.ndarray, target: float) -> float:
    return float(values[np.argmax(np.abs(values - target))])
