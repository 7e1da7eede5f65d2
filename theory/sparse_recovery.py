"""Sparse recovery: when a k-sparse code is the only one, and greedy or convex search finds it.

Axes: n dimensions, m atoms (columns of D [n, m], unit length), k nonzeros.

Claims (each cites its source in `source`; the table is in README.md, "Theory"):
- coherence condition (Tropp 2004; Donoho & Elad 2003; Gribonval & Nielsen 2003): with
  mutual coherence μ = max_{i≠j} |⟨d_i, d_j⟩|, orthogonal matching pursuit and basis
  pursuit (min ‖c‖₁ subject to Dc = s) recover every k-sparse c from s = Dc when
  k < (1 + 1/μ)/2. The two-ortho dictionary D = [I_n, H_n/√n] (H Sylvester–Hadamard)
  has μ = 1/√n: n = 64 guarantees k ≤ 4.
- Negative control (Donoho & Huo 2001, the picket fence): in [I_16, H_16/4] the indicator
  of the subgroup V⊥ = {0, 4, 8, 12} equals H/4 applied to the indicator of V = {0, 1, 2, 3},
  so s = 1_{V⊥} has two 4-sparse codes of equal ℓ1 norm; k = 4 is beyond (1 + 4)/2 and no
  method can recover both.
- Gershgorin (restricted isometry): every k columns of a unit-column D have Gram
  eigenvalues in [1 − (k − 1)μ, 1 + (k − 1)μ], so δ_k ≤ (k − 1)μ. Negative control:
  columns that are not unit length.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import linalg, optimize

from theory.claims import Claim
from theory.random_vectors import gaussian_unit_frame, max_coherence


def two_ortho_dictionary(n: int) -> np.ndarray:
    """[I_n, H_n/√n] (n a power of two), [n, 2n]."""
    return np.concatenate([np.eye(n), linalg.hadamard(n) / math.sqrt(n)], axis=1)


def mutual_coherence(dictionary) -> float:
    """μ = max_{i≠j} |⟨d_i, d_j⟩| over the columns (as given: not renormalised)."""
    return max_coherence(np.asarray(dictionary).T)


def coherence_sparsity_limit(mu: float) -> float:
    """(1 + 1/μ)/2: every k strictly below it is recovered by OMP and basis pursuit."""
    return (1.0 + 1.0 / mu) / 2.0


def guaranteed_sparsity(mu: float) -> int:
    """The largest integer k < (1 + 1/μ)/2."""
    return math.ceil(coherence_sparsity_limit(mu)) - 1


def picket_fence(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two codes of the same signal in [I_n, H_n/√n] (n = 4^j): the comb on the identity half and on the Hadamard half.

    With V = {0, …, √n − 1} (a subgroup of Z_2^{log n}), H 1_V = √n 1_{V⊥} where V⊥ are the
    multiples of √n; so 1_{V⊥} = I 1_{V⊥} = (H/√n) 1_V.
    """
    root = math.isqrt(n)
    comb = np.zeros(n)
    comb[::root] = 1.0  # 1_{V⊥}
    block = np.zeros(n)
    block[:root] = 1.0  # 1_V
    return np.concatenate([comb, np.zeros(n)]), np.concatenate([np.zeros(n), block])


def basis_pursuit(dictionary, signal) -> np.ndarray:
    """argmin ‖c‖₁ subject to Dc = s, as a linear programme over c = u − v, u, v ≥ 0 (HiGHS)."""
    dictionary = np.asarray(dictionary, np.float64)
    m = dictionary.shape[1]
    result = optimize.linprog(
        np.ones(2 * m), A_eq=np.concatenate([dictionary, -dictionary], axis=1), b_eq=signal, bounds=(0, None), method="highs"
    )
    if result.status != 0:
        raise RuntimeError(f"basis pursuit: {result.message}")
    return result.x[:m] - result.x[m:]


def matching_pursuit(dictionary, signal, k: int) -> np.ndarray:
    """Orthogonal matching pursuit with k steps (scikit-learn's `orthogonal_mp`)."""
    from sklearn.linear_model import (
        orthogonal_mp,  # here, not at the top: scikit-learn loads pandas and pyarrow (~1 s), which a refusal need not pay
    )

    return orthogonal_mp(np.asarray(dictionary, np.float64), np.asarray(signal, np.float64), n_nonzero_coefs=k)


SOLVERS = {"omp": lambda D, s, k: matching_pursuit(D, s, k), "basis_pursuit": lambda D, s, k: basis_pursuit(D, s)}


def random_sparse_codes(rng: np.random.Generator, m: int, k: int, count: int) -> np.ndarray:
    """`count` codes [count, m] with k nonzeros at random places, magnitudes in [0.5, 2], random signs."""
    supports = np.argsort(rng.random((count, m)), axis=1)[:, :k]  # k distinct places per row
    values = rng.choice([-1.0, 1.0], size=(count, k)) * rng.uniform(0.5, 2.0, size=(count, k))
    codes = np.zeros((count, m))
    np.put_along_axis(codes, supports, values, axis=1)
    return codes


def recovery_error(dictionary, codes, solver: str) -> float:
    """max over codes of ‖ĉ − c‖_∞ where ĉ is the solver's code for s = Dc."""
    dictionary = np.asarray(dictionary, np.float64)
    worst = 0.0
    for code in np.atleast_2d(codes):
        k = int(np.count_nonzero(code))
        recovered = SOLVERS[solver](dictionary, dictionary @ code, k)
        worst = max(worst, float(np.max(np.abs(recovered - code))))
    return worst


def restricted_isometry_constant(dictionary, k: int) -> float:
    """δ_k = max over k-column subsets S of max |eig(D_Sᵀ D_S) − 1|, exactly (every subset)."""
    dictionary = np.asarray(dictionary, np.float64)
    gram = dictionary.T @ dictionary
    subsets = np.array(list(itertools.combinations(range(gram.shape[0]), k)))
    blocks = gram[subsets[:, :, None], subsets[:, None, :]]  # [subsets, k, k]
    return float(np.max(np.abs(np.linalg.eigvalsh(blocks) - 1.0)))


def random_unit_dictionary(rng: np.random.Generator, n: int, m: int, column_scale: float = 1.0) -> np.ndarray:
    """m Gaussian unit columns in R^n; `column_scale` ≠ 1 rescales the first column (a broken hypothesis)."""
    dictionary = gaussian_unit_frame(rng, n, m).T
    dictionary[:, 0] *= column_scale
    return dictionary


def _recovery_instance(quick: bool, seed: int) -> dict:
    return {"n": 64, "k": None, "signals": 100 if quick else 500, "seed": seed}


def _recovery_measure(solver: str):
    def measure(instance: dict) -> float:
        if instance.get("picket_fence"):
            codes = np.stack(picket_fence(instance["n"]))
        else:
            dictionary_mu = 1.0 / math.sqrt(instance["n"])
            k = instance["k"] or guaranteed_sparsity(dictionary_mu)
            codes = random_sparse_codes(np.random.default_rng(instance["seed"]), 2 * instance["n"], k, instance["signals"])
        return recovery_error(two_ortho_dictionary(instance["n"]), codes, solver)

    return measure


def _describe_recovery(instance: dict) -> str:
    if instance.get("picket_fence"):
        return f"[I, H/√n], n={instance['n']}, picket fence (two 4-sparse codes)"
    k = instance["k"] or guaranteed_sparsity(1.0 / math.sqrt(instance["n"]))
    return f"[I, H/√n], n={instance['n']}, μ=1/{math.isqrt(instance['n'])}, k={k}, {instance['signals']} signals"


def _recovery_claim(solver: str, name: str, source: str) -> Claim:
    return Claim(
        id=f"{solver}_recovery",
        statement=f"{name} recovers every k-sparse code when k < (1 + 1/μ)/2 (max error over random codes = 0)",
        source=source,
        relation="=",
        predict=lambda inst: 0.0,
        measure=_recovery_measure(solver),
        instance=_recovery_instance,
        describe=_describe_recovery,
        tolerance=lambda inst: 1e-6,
    )


CLAIMS = [
    _recovery_claim("omp", "orthogonal matching pursuit", "Tropp 2004"),
    _recovery_claim("basis_pursuit", "basis pursuit (min ℓ1)", "Donoho & Elad 2003"),
    Claim(
        id="gershgorin_rip",
        statement="every k unit columns have Gram eigenvalues within (k − 1)μ of 1: δ_k ≤ (k − 1)μ",
        source="Gershgorin",
        relation="≤",
        predict=lambda inst: (inst["k"] - 1) * mutual_coherence(_rip_dictionary(inst)),
        measure=lambda inst: restricted_isometry_constant(_rip_dictionary(inst), inst["k"]),
        instance=lambda quick, seed: {"n": 64, "m": 24 if quick else 40, "k": 3 if quick else 4, "seed": seed},
        describe=lambda inst: (
            f"Gaussian unit columns, n={inst['n']}, m={inst['m']}, k={inst['k']}, every subset"
            + (f", first column ×{inst['column_scale']}" if inst.get("column_scale", 1.0) != 1.0 else "")
        ),
        tolerance=lambda inst: 1e-12,
    ),
]


def _rip_dictionary(instance: dict) -> np.ndarray:
    return random_unit_dictionary(np.random.default_rng(instance["seed"]), instance["n"], instance["m"], instance.get("column_scale", 1.0))
