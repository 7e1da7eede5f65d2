"""How a ReLU network folds its input space, measured exactly along lines and per layer.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): N samples, L hidden layers, H units;
a network is given by its hidden layers' weights W_l [in, out] and biases b_l (the linear read-out
never folds).

- `line_regions(W, b, start, end)`: for the segment x(t) = start + t (end − start),
  t ∈ [0, 1], the number of pieces with distinct activation patterns of layers 1…l, for
  each l (a list of L counts). Exact: within a piece whose pattern up to layer l − 1 is
  fixed the network is affine, so each layer-l pre-activation is affine in t and changes
  sign at most once; splitting every piece at those zeros, layer by layer, gives the
  pieces. A region with a fixed pattern is an intersection of half-spaces (convex), so a
  line meets it in one piece: pieces = distinct patterns crossed. With `fold=False`
  (a linear network) nothing splits: one piece.
- `line_regions_brute`: the same count from the patterns at `n` evenly spaced t (a check).
- `linearly_separable(X, y)`: whether some (w, c) has y_i(w·x_i + c) ≥ 1 for all i (an LP).
- `squashed_share(acts, labels)`: per class, the share of its points on each face of the
  orthant (unit j at exactly 0), their mean over units, and the share of points with at
  least one unit at 0.
- `class_spread(acts, labels)`: per class, the RMS distance to its centroid divided by
  the RMS distance of all points to the overall centroid (1: as spread as everything;
  → 0: the class collapsed to a point).
- `gradient_turning(gradients)`: 1 − ‖mean of the unit gradients‖: 0 when the class
  logit's gradient points the same way everywhere (one global direction), towards 1 when
  it turns across the space (a vector field, not a vector).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int
from scipy import optimize

from toys.engine.shapes import AnyArray


def _forward_pre(weights, biases, x, masks, layer):
    """Pre-activations of `layer` at points x with the earlier layers' on/off masks fixed."""
    h = x
    for W, b, mask in zip(weights[:layer], biases[:layer], masks):
        h = (h @ W + b) * mask
    return h @ weights[layer] + biases[layer]


def _masks(weights, biases, x, layer, fold):
    """On/off patterns of layers < `layer` at the points x (all on for a linear network)."""
    masks, h = [], x
    for W, b in zip(weights[:layer], biases[:layer]):
        z = h @ W + b
        mask = (z > 0).astype(np.float64) if fold else np.ones_like(z)
        masks.append(mask)
        h = z * mask
    return masks


def line_regions(weights, biases, start, end, fold: bool = True) -> list[int]:
    """Pieces of the segment with distinct patterns of layers 1…l, for l = 1…L (exact)."""
    weights = [np.asarray(W, np.float64) for W in weights]
    biases = [np.asarray(b, np.float64) for b in biases]
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    pieces, counts = [(0.0, 1.0)], []
    for layer in range(len(weights)):
        if fold:
            split = []
            for a, b in pieces:
                midpoint = start + (a + b) / 2 * (end - start)
                masks = [m[0] for m in _masks(weights, biases, midpoint[None], layer, fold)]
                ends = np.stack([start + a * (end - start), start + b * (end - start)])
                za, zb = _forward_pre(weights, biases, ends, masks, layer)
                crossing = za * zb < 0
                cuts = np.sort(a + (b - a) * za[crossing] / (za[crossing] - zb[crossing]))
                bounds = np.concatenate([[a], cuts, [b]])
                split += [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi - lo > 1e-12]
            pieces = split
        counts.append(len(pieces))
    return counts


def line_regions_brute(weights, biases, start, end, n: int = 100_001, fold: bool = True) -> list[int]:
    """The same counts from the patterns at one point inside each of n equal cells of [0, 1].

    Misses pieces shorter than 1/n. The point sits an irrational fraction (the golden
    ratio's 0.618…) into its cell, so it never lands exactly on a kink at a rational t —
    where a pattern with a unit at exactly 0 would count as a piece of length 0.
    """
    t = ((np.arange(n) + (np.sqrt(5.0) - 1.0) / 2.0) / n)[:, None]
    x = np.asarray(start, np.float64) + t * (np.asarray(end, np.float64) - np.asarray(start, np.float64))
    masks = _masks(weights, biases, x, len(weights), fold)
    counts = []
    for layer in range(1, len(weights) + 1):
        pattern = np.concatenate(masks[:layer], axis=1)
        counts.append(1 + int(np.sum(np.any(pattern[1:] != pattern[:-1], axis=1))))
    return counts


def linearly_separable(X: Float[AnyArray, "N D"], y: Int[AnyArray, " N"]) -> bool:
    """Whether a hyperplane separates the two classes with margin: ∃ w, c: y_i(w·x_i + c) ≥ 1 (HiGHS)."""
    X = np.asarray(X, np.float64)
    signs = np.where(np.asarray(y, bool), 1.0, -1.0)
    constraints = -signs[:, None] * np.concatenate([X, np.ones((len(X), 1))], axis=1)
    result = optimize.linprog(np.zeros(X.shape[1] + 1), A_ub=constraints, b_ub=-np.ones(len(X)), bounds=(None, None), method="highs")
    return result.status == 0


def squashed_share(activations: Float[AnyArray, "N H"], labels, classes) -> dict:
    """Per class: share of points on each face (unit = 0), its mean over units, and share on at least one face."""
    activations, labels = np.asarray(activations), np.asarray(labels)
    out = {}
    for c in classes:
        zero = activations[labels == c] == 0
        out[str(c)] = {
            "units_at_zero": float(zero.mean()),
            "points_on_a_face": float(np.any(zero, axis=1).mean()),
            "per_unit": zero.mean(axis=0).tolist(),
        }  # the share on each face (unit j = 0)
    return out


def class_spread(activations: Float[AnyArray, "N H"], labels, classes) -> dict:
    """Per class: RMS distance to the class centroid / RMS distance to the overall centroid."""
    activations, labels = np.asarray(activations, np.float64), np.asarray(labels)
    total = np.sqrt(np.mean(np.sum((activations - activations.mean(axis=0)) ** 2, axis=1)))
    out = {}
    for c in classes:
        members = activations[labels == c]
        within = np.sqrt(np.mean(np.sum((members - members.mean(axis=0)) ** 2, axis=1)))
        out[str(c)] = float(within / total) if total > 0 else 0.0
    return out


def gradient_turning(gradients: Float[AnyArray, "N D"]) -> float:
    """1 − ‖mean_i g_i/‖g_i‖‖ over the rows of gradients [N, D] (zero rows are skipped)."""
    gradients = np.asarray(gradients, np.float64)
    norms = np.linalg.norm(gradients, axis=1)
    unit = gradients[norms > 0] / norms[norms > 0, None]
    return float(1.0 - np.linalg.norm(unit.mean(axis=0))) if len(unit) else 0.0
