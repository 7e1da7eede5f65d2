"""The ideal modular-addition clock (Nanda et al. 2023): reading a + b mod p off cosines.

Claim: for a prime p and any nonempty set K ⊂ {1, …, (p − 1)/2} of key frequencies,

    argmax_c Σ_{k ∈ K} cos(2πk(a + b − c)/p) = (a + b) mod p    for every a, b,

with a unique maximiser: each term is 1 exactly when k(a + b − c) ≡ 0 (mod p), which for
prime p and k ≢ 0 means c ≡ a + b. Negative control: a composite modulus with every key
frequency sharing a factor with it (p = 12, K = {3, 6}) ties c = a + b with c = a + b ± 4.
"""

from __future__ import annotations

import numpy as np

from theory.claims import Claim


def clock_logits(p: int, frequencies) -> np.ndarray:
    """logits[a, b, c] = Σ_{k ∈ K} cos(2πk(a + b − c)/p), [p, p, p]."""
    residues = np.arange(p)
    shift = residues[:, None, None] + residues[None, :, None] - residues[None, None, :]
    return sum(np.cos(2.0 * np.pi * k * shift / p) for k in frequencies)


def clock_accuracy(p: int, frequencies) -> float:
    """Share of pairs (a, b) whose unique argmax over c is (a + b) mod p (a tie counts as wrong)."""
    logits = clock_logits(p, frequencies)
    top = logits.max(axis=2, keepdims=True)
    unique = np.sum(logits >= top - 1e-9, axis=2) == 1
    residues = np.arange(p)
    correct = logits.argmax(axis=2) == (residues[:, None] + residues[None, :]) % p
    return float(np.mean(unique & correct))


CLAIMS = [
    Claim(
        id="ideal_clock",
        statement="for prime p, argmax_c Σ_{k∈K} cos(2πk(a+b−c)/p) = (a+b) mod p for every a, b (accuracy 1)",
        source="Nanda et al. 2023",
        relation="=",
        predict=lambda inst: 1.0,
        measure=lambda inst: clock_accuracy(inst["p"], inst["frequencies"]),
        instance=lambda quick, seed: {"p": 59 if quick else 113, "frequencies": [14, 17, 23] if quick else [14, 35, 41, 42, 52]},
        describe=lambda inst: f"p={inst['p']}, K={list(inst['frequencies'])}, all p² pairs",
        tolerance=lambda inst: 0.0,
    ),
]
