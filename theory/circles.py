"""A circle against a dictionary of m equally spaced atoms (the polygon bounds).

Axes: n points, m atoms.

Points x(θ) = r (cos θ, sin θ) on a circle of radius r; atoms a_j = (cos 2πj/m,
sin 2πj/m); Δ = the angle from x to its nearest atom, uniform on [−π/m, π/m] when θ is.
- 1-sparse code with a free nonnegative coefficient, as an SAE's (x̂ = max(a·x, 0) a
  for the best atom; a negative coefficient would make −a_j an atom too): relative
  error ‖x − x̂‖²/r² = sin²Δ; worst sin²(π/m); mean over uniform θ
      E sin²Δ = ½ − sin(2π/m) / (4π/m).
- 2-sparse nonnegative code on the two atoms bracketing x: exact, with L1 norm
  cos(Δ′ − π/m)/cos(π/m) · r (Δ′ ∈ [0, 2π/m] the angle past the first atom); its
  maximum is sec(π/m) and its mean tan(π/m)/(π/m) ≈ 1 + π²/(3m²): tiling a circle
  with more atoms buys only O(m⁻²) in L1.
"""

from __future__ import annotations

import numpy as np


def one_sparse_error_worst(m):
    """max_θ ‖x − x̂‖²/r² for the best single atom: sin²(π/m)."""
    return np.sin(np.pi / np.asarray(m, float)) ** 2


def one_sparse_error_mean(m):
    """E_θ ‖x − x̂‖²/r² for the best single atom, θ uniform: ½ − sin(2π/m)/(4π/m)."""
    m = np.asarray(m, float)
    return 0.5 - np.sin(2.0 * np.pi / m) / (4.0 * np.pi / m)


def two_sparse_l1_mean(m):
    """E_θ of the minimal L1 norm of an exact nonnegative 2-sparse code (r = 1): tan(π/m)/(π/m)."""
    m = np.asarray(m, float)
    return np.tan(np.pi / m) / (np.pi / m)


def two_sparse_l1_max(m):
    """max_θ of that L1 norm: sec(π/m)."""
    return 1.0 / np.cos(np.pi / np.asarray(m, float))


def polygon_atoms(m: int) -> np.ndarray:
    """m unit atoms equally spaced on the circle, [m, 2]."""
    angles = 2.0 * np.pi * np.arange(m) / m
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def one_sparse_errors(atoms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Exact estimator: ‖x − max(a·x, 0) a‖²/‖x‖² for the best unit atom a, per point [n]."""
    overlaps = np.maximum(points @ atoms.T, 0.0)
    norms_sq = np.sum(points**2, axis=1)
    return 1.0 - np.max(overlaps**2, axis=1) / norms_sq
