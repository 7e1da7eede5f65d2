"""Ground-truth recovery scores for a dictionary against planted features.

Shapes are in the signatures (jaxtyping): n samples, F true features, m latents, d activation dimensions.

Notation: T [F, d] true unit features, D [m, d] decoder rows
normalised to unit length, C = |T Dᵀ| [F, m] the absolute cosines.

Decoder scores (take C):
- MMCS = (1/F) Σ_f max_j C[f, j].
- MCC = (1/min(F, m)) Σ_{(f, j) ∈ M} C[f, j], M the one-to-one matching of
  min(F, m) pairs that maximises Σ C (Hungarian algorithm, scipy). Invariant to the
  order and sign of latents. All latents take part, dead or alive.
- uniqueness = |{a(j) : j = 1..m}| / m, where a(j) = argmax_f C[f, j] is latent j's
  best true feature, over **every** latent, dead ones included, computed on the raw
  argmax before any matching (after a one-to-one matching it would be 1 by
  construction) — SAELens' `feature_uniqueness` (sae_lens.synthetic.evals).
  uniqueness_live = |{a(j) : j live}| / #live, the same count over live latents only
  (0 when none is live); our variant, not SAELens'.

Firing scores (additive counts over an eval set, so they can be streamed):
- latent j is live when it fires (f_j > 0) on at least one eval sample; dead
  fraction = 1 − #live / m.
- each latent j is a detector of its best feature a(j) firing (c_{a(j)} > 0):
  precision_j = TP_j / #(latent fires), recall_j = TP_j / #(feature fires),
  F1_j = 2 TP_j / (#(latent fires) + #(feature fires)) (the harmonic mean of the two);
  a dead latent scores 0 on all three, as does recall against a feature that never fires.
  precision, recall, f1 = (1/m) Σ_j over **all m latents** (SAELens'
  `eval_sae_on_synthetic_data`, the definitions behind the published SynthSAEBench
  numbers); precision_live, recall_live, f1_live = the means over live latents only
  (0 when none is live), so precision = precision_live · #live / m.

Reconstruction scores:
- explained variance EV = 1 − Σ_n ‖x − x̂‖² / Σ_n ‖x − x̄‖² (SAELens' ExplainedVarianceCalculator:
  when the mean variance per sample is below 1e-10, EV = 1 if the mean squared error is too, else 0).
- L0 = mean_n #{j : f_j > 0}; true L0 = mean_n #{f : c_f > 0}.
- shrinkage = mean over samples with ‖x‖ > 1e-6 of ‖x̂‖ / ‖x‖ (1 = no shrinkage; SAELens'
  ShrinkageCalculator, whose min_input_norm is 1e-6).

Every score above is checked against SAELens' `eval_sae_on_synthetic_data` on the same
weights and samples by the conformance suite (tests/test_conformance.py).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int
from scipy.optimize import linear_sum_assignment

_EPS = 1e-12
MIN_INPUT_NORM = 1e-6  # shrinkage skips samples with ‖x‖ at or below this (SAELens' min_input_norm)
_DEGENERATE_VARIANCE = 1e-10  # below this mean variance EV is 1 or 0 (SAELens)


def abs_cosine(true_features: Float[ArrayLike, "F d"], decoder: Float[ArrayLike, "m d"]) -> Float[Array, "F m"]:
    """C = |T̂ D̂ᵀ| for true features T and decoder rows D; rows normalised (eps keeps 0 rows at 0)."""
    t = true_features / jnp.maximum(jnp.linalg.norm(true_features, axis=-1, keepdims=True), _EPS)
    w = decoder / jnp.maximum(jnp.linalg.norm(decoder, axis=-1, keepdims=True), _EPS)
    return jnp.abs(t @ w.T)


def mmcs(C: Float[ArrayLike, "F m"]) -> float:
    """Mean over true features of the best |cos| with any latent."""
    return float(np.mean(np.max(np.asarray(C), axis=1)))


def mcc(C: Float[ArrayLike, "F m"]) -> float:
    """Mean |cos| over a maximum-weight one-to-one matching of min(F, m) pairs."""
    C = np.asarray(C, dtype=np.float64)
    rows, cols = linear_sum_assignment(C, maximize=True)
    return float(C[rows, cols].mean())


def matching(C: Float[ArrayLike, "F m"]) -> tuple[Int[np.ndarray, " pairs"], Int[np.ndarray, " pairs"]]:
    """(true feature index, latent index) of the Hungarian matching behind MCC."""
    return linear_sum_assignment(np.asarray(C, dtype=np.float64), maximize=True)


def best_feature(C: Float[ArrayLike, "F m"]) -> Int[Array, " m"]:
    """a(j) = argmax_f C[f, j] for each latent."""
    return jnp.argmax(C, axis=0)


def _distinct_best(C, among=slice(None)) -> int:
    """|{a(j) : j among}|: how many true features are some latent's best."""
    return len(np.unique(np.asarray(best_feature(C))[among]))


def uniqueness(C: Float[ArrayLike, "F m"]) -> float:
    """Distinct best features over every latent, dead ones included, ÷ m (SAELens' definition)."""
    return float(_distinct_best(C) / np.asarray(C).shape[1])


def uniqueness_live(C: Float[ArrayLike, "F m"], live: Bool[ArrayLike, " m"]) -> float:
    """Distinct best features among live latents ÷ number of live latents (0 when none is live)."""
    live = np.asarray(live, dtype=bool)
    return float(_distinct_best(C, live) / live.sum()) if live.any() else 0.0


class FiringCounts(NamedTuple):
    """Additive per-latent counts over an eval set, each [m]."""

    latent_fires: jax.Array  # #(f_j > 0)
    feature_fires: jax.Array  # #(c_{a(j)} > 0)
    both_fire: jax.Array  # TP_j = #(f_j > 0 and c_{a(j)} > 0)


def codes_on_at(codes, columns) -> jax.Array:
    """c[:, columns] > 0, [n, len(columns)], for dense codes [n, F] or sparse ones (an object with
    `on_at(columns)` and `active_count()`, such as `toys.synthetic_model.SparseCodes`)."""
    return codes.on_at(columns) if hasattr(codes, "on_at") else codes[:, columns] > 0


def codes_active_count(codes) -> jax.Array:
    """#{(n, f) : c_nf > 0} for dense or sparse codes."""
    return codes.active_count() if hasattr(codes, "active_count") else jnp.sum(codes > 0)


def firing_counts(latents: Float[ArrayLike, "n m"], codes, assignment: Int[ArrayLike, " m"]) -> FiringCounts:
    """Counts for latents, true codes [n, F] (dense or sparse) and the assignment a."""
    latent_on = jnp.asarray(latents) > 0
    feature_on = codes_on_at(codes, assignment)
    return FiringCounts(latent_on.sum(0), feature_on.sum(0), (latent_on & feature_on).sum(0))


class DetectionScores(NamedTuple):
    precision: float
    recall: float
    f1: float
    precision_live: float
    recall_live: float
    f1_live: float


def detection_scores(counts: FiringCounts) -> DetectionScores:
    """Per-latent precision, recall and F1 averaged over all m latents and over live ones
    (definitions in the module docstring)."""
    fires = np.asarray(counts.latent_fires, np.float64)
    feature = np.asarray(counts.feature_fires, np.float64)
    tp = np.asarray(counts.both_fire, np.float64)
    live = fires > 0
    precision = np.where(live, tp / np.maximum(fires, 1), 0.0)
    recall = np.where(feature > 0, tp / np.maximum(feature, 1), 0.0)
    f1 = np.where(fires + feature > 0, 2 * tp / np.maximum(fires + feature, 1), 0.0)
    every = [float(v.mean()) for v in (precision, recall, f1)]
    live_only = [float(v[live].mean()) if live.any() else 0.0 for v in (precision, recall, f1)]
    return DetectionScores(*every, *live_only)


class ReconstructionSums(NamedTuple):
    """Additive sums over an eval set (scalars except sum_x [d])."""

    n: jax.Array
    squared_error: jax.Array  # Σ ‖x − x̂‖²
    sum_x: jax.Array  # Σ x
    sum_squared_norm: jax.Array  # Σ ‖x‖²
    latent_l0: jax.Array  # Σ #active latents
    true_l0: jax.Array  # Σ #active true features
    norm_ratio: jax.Array  # Σ_{x≠0} ‖x̂‖/‖x‖
    nonzero: jax.Array  # #(x ≠ 0)


def reconstruction_sums(x: Float[Array, "n d"], x_hat: Float[Array, "n d"], latents: Float[Array, "n m"], codes) -> ReconstructionSums:
    """Sums for x, x̂, latents and true codes [n, F] (dense or sparse)."""
    norm_x = jnp.linalg.norm(x, axis=-1)
    nonzero = norm_x > MIN_INPUT_NORM
    ratio = jnp.where(nonzero, jnp.linalg.norm(x_hat, axis=-1) / jnp.where(nonzero, norm_x, 1.0), 0.0)
    return ReconstructionSums(
        n=jnp.float32(x.shape[0]),
        squared_error=jnp.sum((x - x_hat) ** 2),
        sum_x=jnp.sum(x, axis=0),
        sum_squared_norm=jnp.sum(norm_x**2),
        latent_l0=jnp.sum(latents > 0).astype(jnp.float32),
        true_l0=codes_active_count(codes).astype(jnp.float32),
        norm_ratio=jnp.sum(ratio),
        nonzero=jnp.sum(nonzero).astype(jnp.float32),
    )


def explained_variance_of(x: Float[ArrayLike, "n d"], x_hat: Float[ArrayLike, "n d"]) -> float:
    """The same, from the arrays x, x̂ directly."""
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    return float(1.0 - np.sum((x - x_hat) ** 2) / max(np.sum((x - x.mean(axis=0)) ** 2), _EPS))


def explained_variance(sums: ReconstructionSums) -> float:
    """1 − Σ‖x − x̂‖² / Σ‖x − x̄‖², with Σ‖x − x̄‖² = Σ‖x‖² − ‖Σx‖²/n."""
    n = float(sums.n)
    sum_x = np.asarray(sums.sum_x, np.float64)
    total = float(sums.sum_squared_norm) - float(sum_x @ sum_x) / n
    if total / n < _DEGENERATE_VARIANCE:
        return 1.0 if float(sums.squared_error) / n < _DEGENERATE_VARIANCE else 0.0
    return float(1.0 - float(sums.squared_error) / total)


def shrinkage(sums: ReconstructionSums) -> float:
    return float(sums.norm_ratio) / max(float(sums.nonzero), 1.0)


ON_PLANE_SHARE = 0.5  # a latent belongs to a planted span when ≥ ½ of its row's energy lies in it


def max_circular_gap_deg(angles: Float[ArrayLike, " n"]) -> float:
    """The largest gap (degrees) between angles (radians) around the circle; 360 for fewer than two."""
    angles = np.sort(np.mod(np.asarray(angles, np.float64), 2 * np.pi))
    if len(angles) < 2:
        return 360.0
    gaps = np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi]))
    return float(np.degrees(gaps.max()))
