"""Random vectors in R^n: how a random direction aligns with another, and how many fit.

Axes: n dimensions, m vectors. A Rademacher vector is x = z/√n with z uniform on {±1}^n
(unit length). For a fixed y ∈ R^n, S = ⟨x, y⟩ = Σ_k y_k z_k / √n.

Claims (sources in each claim; background: Vershynin, *High-Dimensional Probability*, 2018):
- law: for independent Rademacher x, y, ⟨x, y⟩ = (2B − n)/n with B ~ Bin(n, ½);
- Hoeffding: P(|⟨x, y⟩| > t) ≤ 2 exp(−n t²/2);
- variance: Var S = ‖y‖²/n exactly;
- fourth moment: E S⁴ = (3‖y‖₂⁴ − 2‖y‖₄⁴)/n²  (≤ 3 (E S²)²);
- Paley–Zygmund: P(S > τ‖y‖/√n) ≥ (1 − τ²)²/6 for τ ∈ [0, 1) (from P(S² > τ² E S²) ≥
  (1 − τ²)² (E S²)²/E S⁴ ≥ (1 − τ²)²/3 and the symmetry of S);
- Berry–Esseen: sup_t |P(S/σ ≤ t) − Φ(t)| ≤ 0.56 ‖y‖₃³/‖y‖₂³ (σ = ‖y‖/√n; Shevtsova's
  constant 0.56 for independent non-identical summands);
- maximum coherence μ = max_{i≠j} |⟨x_i, x_j⟩| of m Rademacher vectors: by Hoeffding and a
  union bound over pairs, P(μ > t) ≤ m(m − 1) exp(−n t²/2), so μ ≤ √(2 ln(m(m − 1)/δ)/n)
  with probability ≥ 1 − δ; its typical scale is √(4 ln m / n) (δ ≈ 1);
- Welch: any m > n unit vectors have μ ≥ √((m − n)/(n(m − 1))) and ‖G‖²_F ≥ m²/n, with
  equality for an equiangular tight frame such as the simplex (m = n + 1, ⟨x_i, x_j⟩ = −1/n).

Exact estimators enumerate the 2^n (or 3^n) sign patterns (`sum_law`); the rest count
or compute a Gram matrix. Negative controls turn a hypothesis off: `coupled` (every
coordinate shares one sign — not independent), `sparsity` q < 1 (coordinates ±1/√q with
probability q, else 0: heavy fourth moment), `agreement` ≠ ½ (correlated pairs),
`subspace` < n (vectors confined to fewer dimensions), `scale` ≠ 1 (not unit length),
a perturbed simplex (not a tight frame).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from theory.claims import FAILURE_PROBABILITY, Claim

BERRY_ESSEEN_CONSTANT = 0.56


# ---------------------------------------------------------------- exact laws of S = ⟨x, y⟩


def coordinate_law(sparsity: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Values and probabilities of one coordinate z_k: ±1 (q = 1), or ±1/√q w.p. q/2 each and 0 (q < 1).

    Every choice has mean 0 and variance 1; the fourth moment is 1/q.
    """
    if sparsity >= 1.0:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    spike = 1.0 / math.sqrt(sparsity)
    return np.array([-spike, 0.0, spike]), np.array([sparsity / 2, 1.0 - sparsity, sparsity / 2])


def sum_law(y, sparsity: float = 1.0, coupled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The exact law of S = Σ_k y_k z_k / √n as (values, probabilities), by enumeration.

    Independent z_k from `coordinate_law(sparsity)`; `coupled` draws one z shared by all k.
    2^n atoms (3^n when sparse): keep n ≤ 20 (n ≤ 12 when sparse).
    """
    y = np.asarray(y, np.float64)
    n = len(y)
    values, probs = coordinate_law(sparsity)
    if coupled:
        return values * y.sum() / math.sqrt(n), probs.copy()
    law_values, law_probs = np.zeros(1), np.ones(1)
    for y_k in y:
        law_values = (law_values[:, None] + y_k * values[None] / math.sqrt(n)).ravel()
        law_probs = (law_probs[:, None] * probs[None]).ravel()
    return law_values, law_probs


def moment(law, power: int) -> float:
    values, probs = law
    return float(probs @ values**power)


def upper_tail(law, threshold: float) -> float:
    """P(S > threshold), counting only values clearly above it (round-off never inflates the tail)."""
    values, probs = law
    return float(probs[values > threshold + 1e-12 * max(1.0, abs(threshold))].sum())


def kolmogorov_to_gaussian(law, sigma: float) -> float:
    """sup_t |P(S/σ ≤ t) − Φ(t)|, exactly: both one-sided limits at every atom."""
    values, probs = law
    order = np.argsort(values)
    standardised = values[order] / sigma
    right = np.cumsum(probs[order])
    left = right - probs[order]
    gaussian = special.ndtr(standardised)
    return float(max(np.max(np.abs(right - gaussian)), np.max(np.abs(left - gaussian))))


def paley_zygmund_bound(tau):
    """(1 − τ²)²/6: the lower bound on P(S > τ‖y‖/√n)."""
    tau = np.asarray(tau, np.float64)
    return (1.0 - tau**2) ** 2 / 6.0


def paley_zygmund_margin(y, taus, sparsity: float = 1.0) -> float:
    """min_τ [P(S > τσ) − (1 − τ²)²/6] over the τ grid, exactly (σ = ‖y‖/√n)."""
    law = sum_law(y, sparsity)
    sigma = np.linalg.norm(y) / math.sqrt(len(y))
    return min(upper_tail(law, tau * sigma) - float(paley_zygmund_bound(tau)) for tau in taus)


# ---------------------------------------------------------------- inner products of random pairs


def inner_product_law(n: int, coupled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """⟨x, y⟩ for independent Rademacher x, y: values (2b − n)/n with Bin(n, ½) weights; coupled: ±1."""
    if coupled:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    b = np.arange(n + 1)
    return (2 * b - n) / n, stats.binom.pmf(b, n, 0.5)


def sample_inner_products(rng: np.random.Generator, n: int, pairs: int, agreement: float = 0.5) -> np.ndarray:
    """⟨x, y⟩ of `pairs` Rademacher pairs; y_k = x_k with probability `agreement` (½: independent)."""
    x = rng.choice(np.array([-1, 1], np.int64), size=(pairs, n))
    y = np.where(rng.random((pairs, n)) < agreement, x, -x)
    return np.sum(x * y, axis=1) / n  # the integer (2B − n), divided as in inner_product_law


def kolmogorov_distance(samples, law) -> float:
    """sup_t |F_samples(t) − F_law(t)| for a discrete law (both step functions)."""
    values, probs = law
    order = np.argsort(values)
    values, cdf = values[order], np.cumsum(probs[order])
    samples = np.sort(np.asarray(samples))
    points = np.union1d(values, samples)
    law_cdf = np.concatenate([[0.0], cdf])[np.searchsorted(values, points, side="right")]
    sample_cdf = np.searchsorted(samples, points, side="right") / len(samples)
    return float(np.max(np.abs(law_cdf - sample_cdf)))


def dkw_radius(count: int, failure_probability: float = FAILURE_PROBABILITY) -> float:
    """Dvoretzky–Kiefer–Wolfowitz (Massart): P(sup|F_N − F| > ε) ≤ 2 exp(−2Nε²) → ε = √(ln(2/δ)/2N)."""
    return math.sqrt(math.log(2.0 / failure_probability) / (2.0 * count))


def hoeffding_bound(n: int, t):
    return 2.0 * np.exp(-n * np.asarray(t, np.float64) ** 2 / 2.0)


def hoeffding_ratio(n: int, coupled: bool = False) -> float:
    """max over t > 0 of P(|⟨x, y⟩| > t) / (2 exp(−nt²/2)), exactly (≤ 1 is Hoeffding's inequality).

    The tail is a step function, so the supremum is approached from just below each atom s:
    P(|S| ≥ s) / bound(s). In logs, so that neither underflows at large n: for independent
    coordinates an atom s = (2b − n)/n > 0 has P(|S| ≥ s) = 2 P(B ≥ b) (the binomial's log
    survival function); coupled coordinates put S = ±1.
    """
    if coupled:
        atoms, log_tails = np.array([1.0]), np.array([0.0])
    else:
        b = np.arange(n // 2 + 1, n + 1)  # the atoms above 0
        atoms = (2 * b - n) / n
        log_tails = np.log(2.0) + stats.binom.logsf(b - 1, n, 0.5)
    log_bounds = np.log(2.0) - n * atoms**2 / 2.0
    with np.errstate(over="ignore"):  # a violated bound may overflow to inf: still "not ≤ 1"
        return float(np.exp(np.max(log_tails - log_bounds)))


# ---------------------------------------------------------------- coherence and frames


def rademacher_frame(rng: np.random.Generator, n: int, m: int, subspace: int | None = None) -> np.ndarray:
    """m Rademacher unit vectors as rows [m, n]; `subspace` < n puts them in the first coordinates only."""
    used = n if subspace is None else subspace
    frame = np.zeros((m, n))
    frame[:, :used] = rng.choice(np.array([-1.0, 1.0]), size=(m, used)) / math.sqrt(used)
    return frame


def gaussian_unit_frame(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    frame = rng.standard_normal((m, n))
    return frame / np.linalg.norm(frame, axis=1, keepdims=True)


def simplex_frame(n: int) -> np.ndarray:
    """The regular simplex: n + 1 unit vectors in R^n with ⟨x_i, x_j⟩ = −1/n, rows [n + 1, n]."""
    centred = np.eye(n + 1) - 1.0 / (n + 1)
    u, s, _ = np.linalg.svd(centred)
    coordinates = u[:, :n] * s[:n]  # the same Gram matrix, in an orthonormal basis of 1^⊥
    return coordinates / np.linalg.norm(coordinates, axis=1, keepdims=True)


def max_coherence(frame, block: int = 1024) -> float:
    """μ = max_{i≠j} |⟨x_i, x_j⟩| over the rows, `block` rows of the Gram matrix at a time
    (m² n work, O(block · m) memory; float32 frames stay float32, others are float64)."""
    frame = np.asarray(frame)
    frame = frame if frame.dtype == np.float32 else frame.astype(np.float64)
    largest = 0.0
    for start in range(0, len(frame), block):
        gram = np.abs(frame[start : start + block] @ frame.T)
        rows = np.arange(gram.shape[0])
        gram[rows, start + rows] = 0.0  # the diagonal
        largest = max(largest, float(gram.max()))
    return largest


def frame_potential(frame) -> float:
    """‖G‖²_F = Σ_ij ⟨x_i, x_j⟩²."""
    frame = np.asarray(frame, np.float64)
    return float(np.sum((frame @ frame.T) ** 2))


def welch_bound(n: int, m: int) -> float:
    """√((m − n)/(n(m − 1))): no m unit vectors in R^n have a smaller maximum coherence."""
    return math.sqrt(max(m - n, 0) / (n * (m - 1)))


def coherence_scale(n: int, m) -> np.ndarray:
    """√(4 ln m / n): the union bound's scale (probability bound ≈ 1)."""
    return np.sqrt(4.0 * np.log(np.asarray(m, np.float64)) / n)


def max_inner_scale(n: int, m, norm_y: float) -> np.ndarray:
    """√(2 ln m / n)·‖y‖: the scale of max_i ⟨x_i, y⟩ over m random unit rows (⟨x_i, y⟩ ≈ N(0, ‖y‖²/n))."""
    return np.sqrt(2.0 * np.log(np.asarray(m, np.float64)) / n) * norm_y


def hit_fraction_gaussian(threshold: float, d: int, m: int) -> float:
    """P(max over m random unit atoms of |cos| with a fixed unit vector > τ), Gaussian approximation:
    1 − (1 − 2(1 − Φ(τ√d)))^m, from cos ≈ N(0, 1/d). Its tail is heavier than the true one."""
    tail = 2.0 * stats.norm.sf(threshold * np.sqrt(d))
    return float(1.0 - (1.0 - tail) ** m)


def hit_fraction_sphere(threshold: float, d: int, m: int) -> float:
    """The same with the exact single-atom tail for directions uniform on the sphere in R^d:
    cos² ~ Beta(1/2, (d − 1)/2), so P(|cos| > τ) = I_{1−τ²}((d − 1)/2, 1/2)."""
    tail = float(special.betainc((d - 1) / 2.0, 0.5, 1.0 - threshold**2))
    return float(1.0 - (1.0 - tail) ** m)


def coherence_bound(n: int, m, failure_probability: float = FAILURE_PROBABILITY):
    """√(2 ln(m(m − 1)/δ)/n): μ of m Rademacher vectors exceeds it with probability ≤ δ."""
    m = np.asarray(m, np.float64)
    return np.sqrt(2.0 * np.log(m * (m - 1) / failure_probability) / n)


# ---------------------------------------------------------------- claims


def _gaussian_y(quick: bool, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(16 if quick else 20)


def _y_instance(quick: bool, seed: int) -> dict:
    return {"y": _gaussian_y(quick, seed)}


def _describe_y(instance: dict) -> str:
    y = np.asarray(instance["y"])
    knobs = "".join(f", {key}={instance[key]}" for key in ("sparsity", "coupled") if key in instance)
    return f"n={len(y)}, ‖y‖₃³/‖y‖₂³={np.sum(np.abs(y) ** 3) / np.linalg.norm(y) ** 3:.3f}{knobs}"


def _perturbed(frame: np.ndarray, size: float, seed: int = 0) -> np.ndarray:
    """A frame nudged off tightness by Gaussian noise of the given size, rows renormalised."""
    if size == 0.0:
        return frame
    noisy = frame + size * np.random.default_rng(seed).standard_normal(frame.shape)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


TAUS = np.linspace(0.0, 0.95, 20)

CLAIMS = [
    Claim(
        id="rademacher_inner_product_law",
        statement="⟨x, y⟩ of independent Rademacher unit vectors is (2B − n)/n, B ~ Bin(n, ½): "
        "Kolmogorov distance of the sample ≤ the DKW radius",
        source="DKW, Massart 1990",
        relation="≤",
        predict=lambda inst: dkw_radius(inst["pairs"]),
        measure=lambda inst: kolmogorov_distance(
            sample_inner_products(np.random.default_rng(inst["seed"]), inst["n"], inst["pairs"], inst.get("agreement", 0.5)),
            inner_product_law(inst["n"]),
        ),
        instance=lambda quick, seed: {"n": 64, "pairs": 20_000 if quick else 200_000, "seed": seed},
        describe=lambda inst: f"n={inst['n']}, {inst['pairs']} pairs, agreement {inst.get('agreement', 0.5)}",
        tolerance=lambda inst: 0.0,
    ),
    Claim(
        id="hoeffding_tail",
        statement="P(|⟨x, y⟩| > t) ≤ 2 exp(−n t²/2) for every t (max over t of exact binomial tail / bound ≤ 1)",
        source="Hoeffding 1963",
        relation="≤",
        predict=lambda inst: 1.0,
        measure=lambda inst: hoeffding_ratio(inst["n"], inst.get("coupled", False)),
        instance=lambda quick, seed: {"n": 1_000 if quick else 10_000},
        describe=lambda inst: f"n={inst['n']}" + (", coupled" if inst.get("coupled") else ""),
        tolerance=lambda inst: 0.0,
    ),
    Claim(
        id="inner_product_variance",
        statement="Var⟨x, y⟩ = ‖y‖²/n exactly for a Rademacher unit vector x and fixed y",
        source="independence",
        relation="=",
        predict=lambda inst: float(np.sum(np.square(inst["y"]))) / len(inst["y"]),
        measure=lambda inst: moment(sum_law(inst["y"], coupled=inst.get("coupled", False)), 2),
        instance=_y_instance,
        describe=_describe_y,
        tolerance=lambda inst: 1e-9 * max(1.0, float(np.sum(np.square(inst["y"])))),
    ),
    Claim(
        id="fourth_moment",
        statement="E⟨x, y⟩⁴ = (3‖y‖₂⁴ − 2‖y‖₄⁴)/n² for a Rademacher unit vector x",
        source="moment expansion",
        relation="=",
        predict=lambda inst: (3 * np.sum(np.square(inst["y"])) ** 2 - 2 * np.sum(np.power(inst["y"], 4))) / len(inst["y"]) ** 2,
        measure=lambda inst: moment(sum_law(inst["y"], inst.get("sparsity", 1.0)), 4),
        instance=_y_instance,
        describe=_describe_y,
        tolerance=lambda inst: 1e-9 * max(1.0, float(np.sum(np.square(inst["y"]))) ** 2),
    ),
    Claim(
        id="paley_zygmund",
        statement="P(⟨x, y⟩ > τ‖y‖/√n) ≥ (1 − τ²)²/6 for τ ∈ [0, 1) (min over τ of tail − bound ≥ 0)",
        source="Paley–Zygmund; fourth moment",
        relation="≥",
        predict=lambda inst: 0.0,
        measure=lambda inst: paley_zygmund_margin(inst["y"], TAUS, inst.get("sparsity", 1.0)),
        instance=_y_instance,
        describe=_describe_y,
        tolerance=lambda inst: 0.0,
    ),
    Claim(
        id="berry_esseen",
        statement="sup_t |P(⟨x, y⟩/σ ≤ t) − Φ(t)| ≤ 0.56 ‖y‖₃³/‖y‖₂³ (independent coordinates)",
        source="Shevtsova 2010; Berry–Esseen constant 0.56",
        relation="≤",
        predict=lambda inst: BERRY_ESSEEN_CONSTANT * np.sum(np.abs(inst["y"]) ** 3) / np.linalg.norm(inst["y"]) ** 3,
        measure=lambda inst: kolmogorov_to_gaussian(
            sum_law(inst["y"], coupled=inst.get("coupled", False)), float(np.linalg.norm(inst["y"])) / math.sqrt(len(inst["y"]))
        ),
        instance=_y_instance,
        describe=_describe_y,
        tolerance=lambda inst: 1e-12,
    ),
    Claim(
        id="max_coherence",
        statement="m Rademacher unit vectors in R^n have μ ≤ √(2 ln(m(m−1)/δ)/n) with probability ≥ 1 − δ (typical scale √(4 ln m / n))",
        source="Hoeffding + union bound",
        relation="≤",
        predict=lambda inst: float(coherence_bound(inst["n"], inst["m"])),
        measure=lambda inst: max_coherence(
            rademacher_frame(np.random.default_rng(inst["seed"]), inst["n"], inst["m"], inst.get("subspace"))
        ),
        instance=lambda quick, seed: {"n": 256, "m": 1024 if quick else 4096, "seed": seed},
        describe=lambda inst: (
            f"n={inst['n']}, m={inst['m']}, √(4 ln m/n)={float(coherence_scale(inst['n'], inst['m'])):.3f}"
            + (f", subspace {inst['subspace']}" if inst.get("subspace") else "")
        ),
        tolerance=lambda inst: 0.0,
    ),
    Claim(
        id="welch_bound",
        statement="any m > n unit vectors in R^n have μ ≥ √((m − n)/(n(m − 1)))",
        source="Welch 1974",
        relation="≥",
        predict=lambda inst: welch_bound(inst["n"], inst["m"]),
        measure=lambda inst: max_coherence(
            inst.get("scale", 1.0) * gaussian_unit_frame(np.random.default_rng(inst["seed"]), inst["n"], inst["m"])
        ),
        instance=lambda quick, seed: {"n": 16, "m": 64 if quick else 256, "seed": seed},
        describe=lambda inst: f"Gaussian unit frame, n={inst['n']}, m={inst['m']}",
        tolerance=lambda inst: 1e-12,
    ),
    Claim(
        id="frame_potential",
        statement="any m unit vectors in R^n have ‖G‖²_F ≥ m²/n (equality iff the frame is tight)",
        source="Benedetto & Fickus 2003",
        relation="≥",
        predict=lambda inst: inst["m"] ** 2 / inst["n"],
        measure=lambda inst: frame_potential(
            inst.get("scale", 1.0) * gaussian_unit_frame(np.random.default_rng(inst["seed"]), inst["n"], inst["m"])
        ),
        instance=lambda quick, seed: {"n": 16, "m": 64 if quick else 256, "seed": seed},
        describe=lambda inst: f"Gaussian unit frame, n={inst['n']}, m={inst['m']}",
        tolerance=lambda inst: 1e-9 * inst["m"] ** 2,
    ),
    Claim(
        id="welch_equality_simplex",
        statement="the simplex (m = n + 1, ⟨x_i, x_j⟩ = −1/n) meets the Welch bound with equality",
        source="Strohmer & Heath 2003; equiangular tight frames",
        relation="=",
        predict=lambda inst: welch_bound(inst["n"], inst["n"] + 1),
        measure=lambda inst: max_coherence(_perturbed(simplex_frame(inst["n"]), inst.get("perturbation", 0.0))),
        instance=lambda quick, seed: {"n": 50 if quick else 200},
        describe=lambda inst: (
            f"n={inst['n']}, m={inst['n'] + 1}" + (f", perturbed by {inst['perturbation']}" if inst.get("perturbation") else "")
        ),
        tolerance=lambda inst: 1e-12,
    ),
]
