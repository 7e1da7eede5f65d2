"""The exact two-feature absorption toy (Chanin et al.) and the Matryoshka preference condition.

Truth: orthonormal features t_p (parent) and t_c (child); the child fires only with
its parent. A sample is 0 (probability p00), t_p (parent alone, p10) or t_p + t_c
(both, p11). Two dictionaries of two latents reconstruct every sample exactly:

- not absorbed: atoms t_p, t_c; codes (1, 0) and (1, 1); expected L1 = p10 + 2·p11;
- absorbed: atoms t_p and (t_p + t_c)/√2, encoder rows t_p − t_c and √2·t_c; codes
  (1, 0) and (0, √2); expected L1 = p10 + √2·p11 — lower, so an L1 SAE prefers it,
  and the parent latent is silent exactly when the child fires.

Matryoshka: with the nested loss Σ_{p ∈ {1, 2}} E‖x − x̂_{:p}‖² + λ·E L1 and the parent
latent first, the one-latent prefix misses t_c (error 1) without absorption and
t_p + t_c (error 2) with it, so
    L_not = p11 + λ(p10 + 2 p11),   L_abs = 2 p11 + λ(p10 + √2 p11),
and the non-absorbed dictionary wins exactly when λ(2 − √2) < 1.

Negative controls: a child that also fires alone (p01 > 0) breaks the absorbed
dictionary's exact reconstruction (t_c alone is decoded as t_p + t_c); and the plain,
un-nested loss E‖x − x̂‖² + λ E L1 prefers absorption at every λ > 0 (no crossover).

Dictionaries are (W_enc [d, 2], b_enc [2], W_dec [2, d]) with the ReLU encoder
f = ReLU(x W_enc + b_enc) and no decoder bias; latent 0 is the parent latent.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from theory.claims import Claim

SQRT2 = np.sqrt(2.0)


def features(d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """t_p = e_1, t_c = e_2 in R^d."""
    eye = np.eye(d)
    return eye[0], eye[1]


def not_absorbed(t_p, t_c):
    W_dec = np.stack([t_p, t_c])
    return W_dec.T.copy(), np.zeros(2), W_dec


def absorbed(t_p, t_c):
    W_dec = np.stack([t_p, (t_p + t_c) / SQRT2])
    W_enc = np.stack([t_p - t_c, SQRT2 * t_c]).T
    return W_enc, np.zeros(2), W_dec


def expected_l1_not_absorbed(p10: float, p11: float) -> float:
    return p10 + 2.0 * p11


def expected_l1_absorbed(p10: float, p11: float) -> float:
    return p10 + SQRT2 * p11


def samples(t_p, t_c) -> np.ndarray:
    """The four distinct samples 0 (none), t_p (parent alone), t_p + t_c (both), t_c (child alone), [4, d]."""
    return np.stack([np.zeros_like(t_p), t_p, t_p + t_c, t_c])


def exact_losses(dictionary, t_p, t_c, p10: float, p11: float, p01: float = 0.0) -> dict:
    """Expected squared error, L1 and one-latent-prefix error of a dictionary, exactly.

    The expectation is a sum over the four samples weighted by p00, p10, p11, p01 (the
    toy's child never fires alone: p01 = 0 unless a negative control asks for it).
    """
    W_enc, b_enc, W_dec = (np.asarray(a, np.float64) for a in dictionary)
    x = samples(t_p, t_c)
    weights = np.array([1.0 - p10 - p11 - p01, p10, p11, p01])
    f = np.maximum(x @ W_enc + b_enc, 0.0)
    error = np.sum((x - f @ W_dec) ** 2, axis=1)
    prefix_error = np.sum((x - f[:, :1] @ W_dec[:1]) ** 2, axis=1)
    return {
        "mse": float(weights @ error),
        "l1": float(weights @ np.sum(np.abs(f), axis=1)),
        "prefix_mse": float(weights @ prefix_error),
        "codes": f,
    }


def matryoshka_loss(dictionary, t_p, t_c, p10: float, p11: float, l1_coefficient: float, nested: bool = True) -> float:
    """Σ_{p ∈ {1, 2}} E‖x − x̂_{:p}‖² + λ E L1, exactly (`nested=False`: the plain E‖x − x̂‖² + λ E L1)."""
    losses = exact_losses(dictionary, t_p, t_c, p10, p11)
    return losses["prefix_mse"] * nested + losses["mse"] + l1_coefficient * losses["l1"]


def matryoshka_prefers_not_absorbed(l1_coefficient: float) -> bool:
    """λ(2 − √2) < 1 (Matryoshka loss of the non-absorbed dictionary is the lower)."""
    return l1_coefficient * (2.0 - SQRT2) < 1.0


def l1_saving(p10: float, p11: float, p01: float = 0.0) -> float:
    """E L1(not absorbed) − E L1(absorbed), measured on the hand-built dictionaries; NaN unless
    both reconstruct every sample exactly (the saving is only a preference among exact solutions)."""
    t_p, t_c = features()
    losses = [exact_losses(build(t_p, t_c), t_p, t_c, p10, p11, p01) for build in (not_absorbed, absorbed)]
    if max(loss["mse"] for loss in losses) > 1e-12:
        return float("nan")
    return losses[0]["l1"] - losses[1]["l1"]


def matryoshka_crossover(p10: float, p11: float, nested: bool = True) -> float:
    """The λ at which both dictionaries have the same loss (Brent's method on λ ∈ (0, 100]); NaN if none."""
    t_p, t_c = features()

    def gap(lam):
        return matryoshka_loss(absorbed(t_p, t_c), t_p, t_c, p10, p11, lam, nested) - matryoshka_loss(
            not_absorbed(t_p, t_c), t_p, t_c, p10, p11, lam, nested
        )

    if gap(1e-9) * gap(100.0) > 0:
        return float("nan")
    return float(optimize.brentq(gap, 1e-9, 100.0, xtol=1e-12))


def _describe(instance: dict) -> str:
    extra = f", p01={instance['p01']}" if instance.get("p01") else ""
    extra += ", plain (un-nested) loss" if instance.get("nested") is False else ""
    return f"p10={instance['p10']}, p11={instance['p11']}{extra}, exact sums over the samples"


CLAIMS = [
    Claim(
        id="absorption_l1_saving",
        statement="both two-feature dictionaries reconstruct exactly; absorbing saves (2 − √2) p11 of L1",
        source="Chanin et al. 2024",
        relation="=",
        predict=lambda inst: (2.0 - SQRT2) * inst["p11"],
        measure=lambda inst: l1_saving(inst["p10"], inst["p11"], inst.get("p01", 0.0)),
        instance=lambda quick, seed: {"p10": 0.2, "p11": 0.1},
        describe=_describe,
        tolerance=lambda inst: 1e-12,
    ),
    Claim(
        id="matryoshka_preference",
        statement="the nested (Matryoshka) loss prefers the non-absorbed dictionary iff λ(2 − √2) < 1",
        source="Bussmann et al. 2025",
        relation="=",
        predict=lambda inst: 1.0 / (2.0 - SQRT2),
        measure=lambda inst: matryoshka_crossover(inst["p10"], inst["p11"], inst.get("nested", True)),
        instance=lambda quick, seed: {"p10": 0.2, "p11": 0.1},
        describe=_describe,
        tolerance=lambda inst: 1e-9,
    ),
]
