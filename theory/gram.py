"""What a Gram matrix pins down: vectors up to an orthogonal map; circulant and circle spectra.

Axes: d dimensions, N vectors (columns of X [d, N]).

Claims (each cites its source in `source`; the table is in README.md, "Theory"):
- Procrustes: if XᵀX = YᵀY then Y = QX for an orthogonal Q, and Q = UVᵀ from the SVD
  YXᵀ = UΣVᵀ finds it (scipy's `orthogonal_procrustes`): the residual ‖QX − Y‖ is 0.
  Negative control: a Y whose Gram matrix differs (one vector rescaled).
- Circulant matrices C = circ(c) have the Fourier modes f_k = (e^{2πijk/N})_j as
  eigenvectors with eigenvalues DFT(c)_k. Negative control: a Toeplitz matrix that does
  not wrap around.
- A circle: N ≥ 3 equally spaced points of radius r, embedded isometrically in any R^d,
  have a scatter matrix Σ x xᵀ with eigenvalues Nr²/2 (twice) and 0. Negative controls:
  N = 2 (an antipodal pair: 2r² and 0) and unequal spacing.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats

from theory.claims import Claim


def procrustes_residual(X, Y) -> float:
    """max |QX − Y| for the orthogonal Q that best maps the columns of X onto those of Y."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    R, _ = linalg.orthogonal_procrustes(X.T, Y.T)  # argmin ‖XᵀR − Yᵀ‖, R = Qᵀ
    return float(np.max(np.abs(X.T @ R - Y.T)))


def rotated_copy(rng: np.random.Generator, X, rescale: float = 1.0):
    """Y = QX for a random orthogonal Q; `rescale` ≠ 1 scales the first vector (a different Gram matrix)."""
    X = np.asarray(X, np.float64)
    Y = stats.ortho_group.rvs(X.shape[0], random_state=rng) @ X
    Y[:, 0] *= rescale
    return Y


def fourier_eigen_residual(matrix) -> float:
    """max_k ‖C f_k − λ_k f_k‖_∞ with f_k the Fourier modes and λ = DFT of the first column."""
    matrix = np.asarray(matrix, np.float64)
    N = matrix.shape[0]
    modes = np.exp(2j * np.pi * np.outer(np.arange(N), np.arange(N)) / N)  # column k is f_k
    eigenvalues = np.fft.fft(matrix[:, 0])  # C_ij = c_{i−j}: (C f_k)_i = f_k(i) Σ_l c_l e^{−2πilk/N}
    return float(np.max(np.abs(matrix @ modes - modes * eigenvalues[None])))


def circulant_or_toeplitz(rng: np.random.Generator, N: int, wrap: bool = True) -> np.ndarray:
    column = rng.standard_normal(N)
    if wrap:
        return linalg.circulant(column)
    return linalg.toeplitz(column, rng.standard_normal(N))


def circle_points(rng: np.random.Generator, N: int, d: int, radius: float, jitter: float = 0.0) -> np.ndarray:
    """N points of radius r on a circle in a random plane of R^d, equally spaced unless `jitter` > 0, [N, d]."""
    angles = 2 * np.pi * np.arange(N) / N + jitter * rng.uniform(-np.pi / N, np.pi / N, N)
    plane = stats.ortho_group.rvs(d, random_state=rng)[:, :2] if d > 2 else np.eye(2)
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1) @ plane.T


def circle_spectrum_error(points, radius: float) -> float:
    """max |eig(Σ x xᵀ) − (Nr²/2, Nr²/2, 0, …)| over the sorted eigenvalues."""
    points = np.asarray(points, np.float64)
    N, d = points.shape
    eigenvalues = np.sort(np.linalg.eigvalsh(points.T @ points))[::-1]
    expected = np.zeros(d)
    expected[:2] = N * radius**2 / 2
    return float(np.max(np.abs(eigenvalues - expected)))


def _procrustes_measure(instance: dict) -> float:
    rng = np.random.default_rng(instance["seed"])
    X = rng.standard_normal((instance["d"], instance["N"]))
    return procrustes_residual(X, rotated_copy(rng, X, instance.get("rescale", 1.0)))


CLAIMS = [
    Claim(
        id="procrustes",
        statement="vectors with the same Gram matrix differ by an orthogonal map, and Q = UVᵀ (SVD of YXᵀ) finds it",
        source="Schönemann 1966",
        relation="=",
        predict=lambda inst: 0.0,
        measure=_procrustes_measure,
        instance=lambda quick, seed: {"d": 32, "N": 200 if quick else 2000, "seed": seed},
        describe=lambda inst: (
            f"d={inst['d']}, N={inst['N']} Gaussian vectors, random orthogonal map"
            + (f", first vector ×{inst['rescale']}" if inst.get("rescale", 1.0) != 1.0 else "")
        ),
        tolerance=lambda inst: 1e-9,
    ),
    Claim(
        id="circulant_eigenvectors",
        statement="a circulant matrix has the Fourier modes as eigenvectors, eigenvalues the DFT of its first column",
        source="Gray 2006",
        relation="=",
        predict=lambda inst: 0.0,
        measure=lambda inst: fourier_eigen_residual(
            circulant_or_toeplitz(np.random.default_rng(inst["seed"]), inst["N"], inst.get("wrap", True))
        ),
        instance=lambda quick, seed: {"N": 64 if quick else 512, "seed": seed},
        describe=lambda inst: f"N={inst['N']}, {'circulant' if inst.get('wrap', True) else 'Toeplitz (no wrap)'}",
        tolerance=lambda inst: 1e-9 * inst["N"],
    ),
    Claim(
        id="circle_pca",
        statement="N ≥ 3 equally spaced points of radius r have scatter eigenvalues Nr²/2 twice, the rest 0",
        source="circle symmetry",
        relation="=",
        predict=lambda inst: 0.0,
        measure=lambda inst: circle_spectrum_error(
            circle_points(np.random.default_rng(inst["seed"]), inst["N"], inst["d"], inst["radius"], inst.get("jitter", 0.0)),
            inst["radius"],
        ),
        instance=lambda quick, seed: {"N": 7 if quick else 113, "d": 64, "radius": 2.5, "seed": seed},
        describe=lambda inst: (
            f"N={inst['N']} points, radius {inst['radius']}, in R^{inst['d']}"
            + (f", spacing jittered by {inst['jitter']}" if inst.get("jitter") else "")
        ),
        tolerance=lambda inst: 1e-9 * inst["N"] * inst["radius"] ** 2,
    ),
]
