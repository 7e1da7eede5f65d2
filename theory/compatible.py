"""Structures compatible with sparse codes: manifolds an overcomplete dictionary reconstructs exactly.

Open question: which structures in activation space are compatible with every activation
being sparse in an overcomplete basis? Constructive answers, all on unit-length points:

- circle (in R²) with m equally spaced atoms: each point lies in the cone of the two atoms
  bracketing it, so a nonnegative code with L0 = 2 is exact for every m ≥ 3;
- sphere S² (in R³) with m Fibonacci-lattice atoms: once the atoms surround the origin,
  Carathéodory's theorem for cones puts each point in the cone of 3 atoms: L0 = 3 exact;
- torus (the flat torus (u, v)/√2 in R⁴, u and v on unit circles in orthogonal planes)
  with m/2 polygon atoms per plane: two brackets per plane, L0 = 4 exact.

An SAE with these atoms and the right code reaches zero reconstruction error although the
right description is a 1-, 2- or 2-dimensional manifold; the dictionary size only buys
sparser or cheaper codes. `tradeoff` computes the surface reconstruction error × L0 ×
dictionary size: for each (m, L0), the mean over points of the smallest relative error
‖x − Σ c_j a_j‖²/‖x‖² over nonnegative codes with at most L0 atoms. It is computed exactly
over the `candidates` atoms nearest each point (by cosine): the best nonnegative code on
a support S is a least-squares fit on a subset of S with nonnegative coefficients, so
the minimum over all supports of size ≤ L0 of the feasible least-squares errors is the
optimum. Negative control: one atom fewer than the structure needs (L0 = 1, 2, 3) is not exact.
"""

from __future__ import annotations

import itertools

import numpy as np

from theory.circles import polygon_atoms
from theory.claims import Claim

STRUCTURES = ("circle", "sphere", "torus")
EXACT_SPARSITY = {"circle": 2, "sphere": 3, "torus": 4}


def sample_points(structure: str, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` unit points drawn uniformly from the structure, [count, d]."""
    if structure == "circle":
        theta = rng.uniform(0, 2 * np.pi, count)
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)
    if structure == "sphere":
        points = rng.standard_normal((count, 3))
        return points / np.linalg.norm(points, axis=1, keepdims=True)
    if structure == "torus":
        a, b = rng.uniform(0, 2 * np.pi, (2, count))
        return np.stack([np.cos(a), np.sin(a), np.cos(b), np.sin(b)], axis=1) / np.sqrt(2.0)
    raise ValueError(f"structure: got {structure!r}, allowed {STRUCTURES}")


def fibonacci_sphere(m: int) -> np.ndarray:
    """m nearly uniform unit points on S² (the Fibonacci lattice), [m, 3]."""
    index = np.arange(m) + 0.5
    z = 1.0 - 2.0 * index / m
    phi = np.pi * (1.0 + np.sqrt(5.0)) * index
    radius = np.sqrt(1.0 - z**2)
    return np.stack([radius * np.cos(phi), radius * np.sin(phi), z], axis=1)


def dictionary(structure: str, size: int) -> np.ndarray:
    """The constructive dictionary of `size` unit atoms, [size, d]."""
    if structure == "circle":
        return polygon_atoms(size)
    if structure == "sphere":
        return fibonacci_sphere(size)
    if structure == "torus":
        half = polygon_atoms(size // 2)
        zeros = np.zeros_like(half)
        return np.concatenate([np.concatenate([half, zeros], axis=1), np.concatenate([zeros, half], axis=1)])
    raise ValueError(f"structure: got {structure!r}, allowed {STRUCTURES}")


def best_sparse_errors(atoms, points, sparsity: int, candidates: int = 8) -> np.ndarray:
    """Per point, min ‖x − Σ_{j∈S} c_j a_j‖²/‖x‖² over c ≥ 0 and |S| ≤ L0 within the nearest atoms, [n]."""
    atoms, points = np.asarray(atoms, np.float64), np.asarray(points, np.float64)
    q = min(candidates, len(atoms))
    nearest = np.argsort(-(points @ atoms.T), axis=1)[:, :q]  # [n, q]
    norms_sq = np.sum(points**2, axis=1)
    best = norms_sq.copy()  # the empty code
    for size in range(1, min(sparsity, q) + 1):
        subsets = np.array(list(itertools.combinations(range(q), size)))  # [S, size]
        chosen = atoms[nearest[:, subsets]]  # [n, S, size, d]
        gram = chosen @ np.swapaxes(chosen, -1, -2)  # [n, S, size, size]
        target = np.einsum("nskd,nd->nsk", chosen, points)
        coefficients = np.einsum("nsij,nsj->nsi", np.linalg.pinv(gram), target)
        residual = points[:, None] - np.einsum("nsk,nskd->nsd", coefficients, chosen)
        errors = np.where(np.all(coefficients >= -1e-12, axis=-1), np.sum(residual**2, axis=-1), np.inf)
        best = np.minimum(best, errors.min(axis=1))
    return best / norms_sq


def tradeoff(structure: str, sizes, sparsities, points: int = 2000, seed: int = 0) -> np.ndarray:
    """Mean relative error for each (dictionary size, L0), [len(sizes), len(sparsities)]."""
    sample = sample_points(structure, np.random.default_rng(seed), points)
    return np.array(
        [[best_sparse_errors(dictionary(structure, size), sample, sparsity).mean() for sparsity in sparsities] for size in sizes]
    )


def _max_error(instance: dict) -> float:
    structure = instance["structure"]
    points = sample_points(structure, np.random.default_rng(instance["seed"]), instance["points"])
    sparsity = instance.get("sparsity", EXACT_SPARSITY[structure])
    return float(best_sparse_errors(dictionary(structure, instance["m"]), points, sparsity).max())


def _claim(structure: str, statement: str, m_quick: int, m_full: int) -> Claim:
    return Claim(
        id=f"{structure}_exact_sparse_code",
        statement=statement,
        source="Carathéodory (cones); constructive, issue 7",
        relation="=",
        predict=lambda inst: 0.0,
        measure=_max_error,
        instance=lambda quick, seed: {
            "structure": structure,
            "m": m_quick if quick else m_full,
            "points": 2000 if quick else 20_000,
            "seed": seed,
        },
        describe=lambda inst: (
            f"m={inst['m']} atoms, L0={inst.get('sparsity', EXACT_SPARSITY[structure])}, max over {inst['points']} points"
        ),
        tolerance=lambda inst: 1e-12,
    )


CLAIMS = [
    _claim("circle", "a circle is reconstructed exactly by m ≥ 3 polygon atoms with nonnegative 2-sparse codes", 16, 64),
    _claim("sphere", "a sphere is reconstructed exactly by Fibonacci atoms with nonnegative 3-sparse codes", 32, 128),
    _claim("torus", "a flat torus is reconstructed exactly by two polygons of atoms with nonnegative 4-sparse codes", 32, 64),
]
