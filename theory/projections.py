"""Random projections and the Johnson–Lindenstrauss lemma.

Claim (Dasgupta & Gupta's form): for N points in R^P and a Gaussian projection
R ∈ R^{P×k} with entries N(0, 1/k), every squared pairwise distance is kept within a
factor 1 ± ε, (1 − ε)‖u − v‖² ≤ ‖(u − v)R‖² ≤ (1 + ε)‖u − v‖², with positive
probability as soon as

    k ≥ 4 ln N / (ε²/2 − ε³/3).

`jl_dimension` is that bound; `jl_tolerance` inverts it (the ε the bound guarantees at
a given k); `gaussian_projection` draws R; `distortions` measures the worst ratio.

With a failure probability δ: each pair fails with probability ≤ 2 exp(−k(ε²/2 − ε³/3)/2)
(Dasgupta & Gupta, Lemma 2.2, both tails), so a union bound over the N(N − 1)/2 pairs
gives success with probability ≥ 1 − δ once k ≥ 2 ln(N(N − 1)/δ)/(ε²/2 − ε³/3)
(`jl_dimension(N, ε, δ)`). Negative control: k far below it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from theory.claims import FAILURE_PROBABILITY, Claim


def _rate(eps: float) -> float:
    return eps**2 / 2 - eps**3 / 3


def jl_dimension(n_points: int, eps: float, failure_probability: float | None = None) -> int:
    """The smallest k the bound allows for N points at tolerance ε ∈ (0, 1).

    Without a failure probability: Dasgupta–Gupta's 4 ln N/(ε²/2 − ε³/3) (success with
    probability ≥ 1/N); with δ: 2 ln(N(N − 1)/δ)/(ε²/2 − ε³/3).
    """
    if not 0 < eps < 1:
        raise ValueError(f"eps: got {eps}, allowed range (0, 1)")
    if failure_probability is None:
        return math.ceil(4 * math.log(n_points) / _rate(eps))
    return math.ceil(2 * math.log(n_points * (n_points - 1) / failure_probability) / _rate(eps))


def jl_tolerance(n_points: int, dimension: int) -> float:
    """The smallest ε ∈ (0, 1] with 4 ln N / (ε²/2 − ε³/3) ≤ k (1.0 when even ε = 1 is not enough)."""
    target = 4 * math.log(n_points) / dimension
    if _rate(1.0) < target:
        return 1.0
    low, high = 0.0, 1.0  # the rate increases on (0, 1): bisection
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if _rate(middle) < target else (low, middle)
    return high


def gaussian_projection(key: jax.Array, n_dims: int, dimension: int) -> jax.Array:
    """R [P, k] with independent N(0, 1/k) entries, so that E‖uR‖² = ‖u‖²."""
    return jax.random.normal(key, (n_dims, dimension)) / jnp.sqrt(dimension)


def distortions(points, projected) -> np.ndarray:
    """‖(u − v)R‖² / ‖u − v‖² − 1 over all pairs of distinct rows, [N(N−1)/2]."""

    def squared_distances(x):
        x = np.asarray(x, np.float64)
        norms = np.sum(x**2, axis=1)
        return norms[:, None] + norms[None] - 2 * x @ x.T

    upper = np.triu_indices(len(points), k=1)
    before, after = squared_distances(points)[upper], squared_distances(projected)[upper]
    return after / before - 1.0


def max_distortion(instance: dict) -> float:
    """max |distortion| of N Gaussian points in R^P under a Gaussian projection to k dims.

    NumPy draws (float64, no compilation per shape); R has the N(0, 1/k) entries of
    `gaussian_projection`.
    """
    rng = np.random.default_rng(instance["seed"])
    points = rng.standard_normal((instance["points"], instance["dims"]))
    k = projection_dimension(instance)
    projection = rng.standard_normal((instance["dims"], k)) / np.sqrt(k)
    return float(np.max(np.abs(distortions(points, points @ projection))))


def projection_dimension(instance: dict) -> int:
    """The instance's k, by default the δ-bound's dimension."""
    return instance.get("k") or jl_dimension(instance["points"], instance["eps"], FAILURE_PROBABILITY)


CLAIMS = [
    Claim(
        id="johnson_lindenstrauss",
        statement="a Gaussian projection to k ≥ 2 ln(N(N−1)/δ)/(ε²/2 − ε³/3) dims keeps every squared distance within 1 ± ε",
        source="Dasgupta & Gupta 2003",
        relation="≤",
        predict=lambda inst: inst["eps"],
        measure=max_distortion,
        instance=lambda quick, seed: {"points": 300 if quick else 1000, "dims": 2000, "eps": 0.5, "seed": seed},
        describe=lambda inst: f"N={inst['points']} Gaussian points in R^{inst['dims']}, k={projection_dimension(inst)}",
        tolerance=lambda inst: 0.0,
    ),
]
