"""The search for a ring plane: the plane in which centred points lie closest to one radius.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): r points, q directions searched.

In a plane A (q × 2, orthonormal columns) the points' squared radii are s_i = ‖Aᵀ y_i‖². A *ring
plane* minimises their spread
    c(A) = var(s) / mean(s)²
(0 exactly when every point sits at one radius about the centre). `descend` lowers c on the
Stiefel manifold (Riemannian gradient, QR retraction) from the starting planes of `starts`: neighbouring
eigenvector pairs of the least-squares quadric y_iᵀ M y_i = 1 (`ring_quadric`: a ring of radius r in
plane P solves it with M = P/r², so M's eigenvectors pair up into ring planes), `STARTS` random planes
and, with few directions, every pair of coordinate directions; `best_ring_plane` keeps the lowest.
Used on a latent group's reconstructions (`sae.readers.projection_circles`).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

STARTS = 8
PAIR_STARTS_UP_TO = 6  # with at most this many directions, every pair of them is a start too
ITERATIONS = 150


def spread(coordinates: np.ndarray, candidate: np.ndarray) -> tuple[float, np.ndarray]:
    """c(A) (module docstring) of centred coordinates [r, q] in a candidate plane A [q, 2] (orthonormal
    columns), and its gradient [q, 2]."""
    projected = coordinates @ candidate
    s = np.sum(projected**2, axis=1)
    mean, second = s.mean(), np.mean(s**2)
    mean = max(mean, 1e-300)
    # ds_i/dA = 2 y_i (y_iᵀ A); c = E[s²]/E[s]² − 1
    d_second = 2 * (coordinates * (2 * s)[:, None]).T @ projected / len(s)
    d_mean = 2 * coordinates.T @ projected / len(s)
    value = second / mean**2 - 1
    gradient = d_second / mean**2 - 2 * second / mean**3 * d_mean
    return float(max(value, 0.0)), gradient


def retract(plane: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(plane)
    return q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))


def descend(coordinates: np.ndarray, start: np.ndarray, iterations: int = ITERATIONS) -> tuple[float, np.ndarray]:
    """Gradient descent of c on orthonormal planes [q, 2] from `start` (Riemannian gradient, QR
    retraction, step halved on a rise and grown on a fall). Returns (c, plane)."""
    plane = retract(start)
    value, gradient = spread(coordinates, plane)
    step = 0.1
    for _ in range(iterations):
        riemannian = gradient - plane @ (plane.T @ gradient + gradient.T @ plane) / 2
        norm = float(np.linalg.norm(riemannian))
        if norm < 1e-10 or value < 1e-12:
            break
        trial = retract(plane - step * riemannian / norm)
        trial_value, trial_gradient = spread(coordinates, trial)
        if trial_value < value:
            plane, value, gradient = trial, trial_value, trial_gradient
            step = min(step * 1.5, 1.0)
        else:
            step /= 2
            if step < 1e-6:
                break
    return value, plane


def ring_quadric(coordinates: np.ndarray) -> np.ndarray:
    """The symmetric M [q, q] with y_iᵀ M y_i ≈ 1 for every centred point y_i (least squares, minimum
    norm). A ring of radius r in plane P satisfies it with M = P/r²; for rings in orthogonal planes the
    solutions are their affine combinations, so M's eigenvectors pair up into the rings' planes (equal
    eigenvalues within a plane)."""
    q = coordinates.shape[1]
    rows, cols = np.triu_indices(q)
    weight = np.where(rows == cols, 1.0, 2.0)
    design = coordinates[:, rows] * coordinates[:, cols] * weight
    solution = np.linalg.lstsq(design, np.ones(len(coordinates)), rcond=None)[0]
    quadric = np.zeros((q, q))
    quadric[rows, cols] = solution
    return quadric + np.triu(quadric, 1).T


def starts(coordinates: np.ndarray, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Starting planes: neighbouring eigenvector pairs of `ring_quadric`, `count` random planes, and with
    few directions every pair of principal directions."""
    q = coordinates.shape[1]
    eye = np.eye(q)
    pairs = [eye[:, [i, j]] for i in range(q) for j in range(i + 1, q)] if q <= PAIR_STARTS_UP_TO else []
    _, vectors = np.linalg.eigh(ring_quadric(coordinates))
    quadric_pairs = [vectors[:, [i, i + 1]] for i in range(q - 1)]
    return pairs + quadric_pairs + [rng.normal(size=(q, 2)) for _ in range(count)]


def best_ring_plane(coordinates: Float[np.ndarray, "r q"], rng: np.random.Generator, count: int = STARTS) -> tuple[float, np.ndarray]:
    """The ring plane of centred coordinates [r, q] (q ≥ 2): `descend` from every start of `starts`,
    the lowest spread kept. Returns (c, plane [q, 2])."""
    best_value, best_plane = np.inf, np.eye(coordinates.shape[1])[:, :2]
    for start in starts(coordinates, rng, count):
        value, plane = descend(coordinates, start)
        if value < best_value:
            best_value, best_plane = value, plane
    return best_value, best_plane
