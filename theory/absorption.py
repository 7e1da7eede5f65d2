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

Dictionaries are (W_enc [d, 2], b_enc [2], W_dec [2, d]) with the ReLU encoder
f = ReLU(x W_enc + b_enc) and no decoder bias; latent 0 is the parent latent.
"""

from __future__ import annotations

import numpy as np

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
    """The three distinct samples 0 (none), t_p (parent alone), t_p + t_c (both), [3, d]."""
    return np.stack([np.zeros_like(t_p), t_p, t_p + t_c])


def exact_losses(dictionary, t_p, t_c, p10: float, p11: float) -> dict:
    """Expected squared error, L1 and one-latent-prefix error of a dictionary, exactly.

    The expectation is a sum over the three samples weighted by p00, p10, p11.
    """
    W_enc, b_enc, W_dec = (np.asarray(a, np.float64) for a in dictionary)
    x = samples(t_p, t_c)
    weights = np.array([1.0 - p10 - p11, p10, p11])
    f = np.maximum(x @ W_enc + b_enc, 0.0)
    error = np.sum((x - f @ W_dec) ** 2, axis=1)
    prefix_error = np.sum((x - f[:, :1] @ W_dec[:1]) ** 2, axis=1)
    return {
        "mse": float(weights @ error),
        "l1": float(weights @ np.sum(np.abs(f), axis=1)),
        "prefix_mse": float(weights @ prefix_error),
        "codes": f,
    }


def matryoshka_loss(dictionary, t_p, t_c, p10: float, p11: float, l1_coefficient: float) -> float:
    """Σ_{p ∈ {1, 2}} E‖x − x̂_{:p}‖² + λ E L1, exactly."""
    losses = exact_losses(dictionary, t_p, t_c, p10, p11)
    return losses["prefix_mse"] + losses["mse"] + l1_coefficient * losses["l1"]


def matryoshka_prefers_not_absorbed(l1_coefficient: float) -> bool:
    """λ(2 − √2) < 1 (Matryoshka loss of the non-absorbed dictionary is the lower)."""
    return l1_coefficient * (2.0 - SQRT2) < 1.0
