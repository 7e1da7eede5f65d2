"""Planted superposition: F sparse features stored as unit directions in R^d.

Axes: n samples, F true features, d activation dimensions, r correlation factors.

Truth (Sharkey et al. 2022 style):
    x = Σ_i c_i t_i + ε,     c_i = z_i · a_i,
where t_i ∈ R^d is feature i's unit direction (row i of ``directions``), z_i ∈ {0, 1}
says whether it fires (P(z_i = 1) = p_i), a_i > 0 is its magnitude and ε ~ N(0, σ² I)
is optional noise. ``sample`` returns x and the true codes c, so every score can be
computed exactly.

Firing profiles, all scaled so that the expected true L0, Σ p_i, equals ``mean_l0``:
constant p_i ∝ 1; Zipf p_i ∝ (i + 1)^-α; linear p_i ∝ (F − i).

Correlated firing uses a Gaussian copula, which keeps every marginal p_i exact:
u_i = √(1 − s) ε_i + √s (g · l_i) with g ~ N(0, I_r) shared across features and unit
loadings l_i, and feature i fires when u_i < Φ⁻¹(p_i); corr(u_i, u_j) = s l_i · l_j.

Sampling. `toy.sample` is sparse and exact in distribution: which features fire comes
from `toys.sparse_firing` (the same mechanism as the SynthSAEBench generator; by the
symmetry of the normal, firing when u_i < Φ⁻¹(p_i) is firing when −u_i > Φ⁻¹(1 − p_i),
its factor √s l_i and diagonal 1 − s), then magnitudes for the active slots only, and x
by gathering their directions: O(n · (L0 · d + F / 8)) rather than the O(n · F · d) of a
dense draw. The codes come back as `SparseCodes`; a batch that overflows the sparse
buffers is redrawn densely (`truth["redrawn"]`). Where the sparse draw would not pay
(dense or strongly correlated firing: `sparse_firing.sparse_pays`) `toy.sample` uses
the dense sampler and returns dense codes. `sample` (the module function) is the
dense reference sampler, returning dense codes [n, F].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from toys import sparse_firing
from toys.engine.config import ConfigError, check_fields, setting
from toys.protocol import Batch, PlantedDirections
from toys.sparse_firing import CopulaFiring, SparseCodes

FIRING_PROFILES = ("constant", "zipf", "linear")
MAGNITUDES = ("uniform", "folded_normal")


@dataclasses.dataclass(frozen=True)
class SuperpositionConfig:
    """Static description of a planted-superposition toy (hashable; safe as a jit static)."""

    n_features: int = setting(512, "F: planted features", low=1)
    d: int = setting(64, "activation dimensions", low=1)
    mean_l0: float = setting(5.0, "expected true L0: Σ p_i", low=0, low_open=True, high="n_features")
    firing: str = setting("constant", "firing-probability profile over features", choices=FIRING_PROFILES)
    zipf_exponent: float = setting(1.0, "α of the Zipf profile p_i ∝ (i + 1)^-α", low=0)
    magnitude: str = setting("uniform", "distribution of a firing feature's magnitude", choices=MAGNITUDES)
    magnitude_low: float = setting(0.5, "uniform magnitudes: lower end", low=0)
    magnitude_high: float = setting(1.5, "uniform magnitudes: upper end", low="magnitude_low")
    magnitude_mean: float = setting(1.0, "folded-normal magnitudes: mean", low=0)
    magnitude_std: float = setting(0.5, "folded-normal magnitudes: standard deviation", low=0)
    correlation_rank: int = setting(0, "r: factors of the Gaussian-copula correlation (0: independent)", low=0)
    correlation_strength: float = setting(
        0.0, "s: share of each feature's latent variance from the shared factors", low=0, high=1, high_open=True
    )
    orthogonalize_steps: int = setting(0, "gradient steps lowering the directions' coherence (0: random directions)", low=0)
    noise_std: float = setting(0.0, "σ of isotropic Gaussian noise added to x", low=0)

    def validate(self, prefix: str = "") -> None:
        """Raise ConfigError naming the first field outside its allowed range."""
        check_fields(self, prefix)
        p = prefix
        probabilities = firing_probabilities(self)
        if float(probabilities.max()) > 1.0:
            limit = self.mean_l0 / float(probabilities.max())
            raise ConfigError(
                f"{p}mean_l0: the {self.firing} profile puts a firing probability above 1; "
                f"allowed range (0, {limit:.4g}] for n_features={self.n_features}"
            )


@struct.dataclass
class SuperpositionToy(PlantedDirections):
    """A built toy: its truth as arrays plus its static config (a pytree, jit-friendly)."""

    directions: jax.Array  # [F, d] unit rows t_i
    probabilities: jax.Array  # [F] firing probabilities p_i
    loadings: jax.Array  # [F, r] unit copula loadings l_i (r = 0: independent firing)
    firing: CopulaFiring  # the same firing model, planned for its sparse draw
    config: SuperpositionConfig = struct.field(pytree_node=False)

    def sample(self, key: jax.Array, n: int) -> Batch:
        """n samples (module docstring): x [n, d], SparseCodes (dense codes where the sparse
        draw does not pay), truth {"redrawn", "codes_truncated"}."""
        if sparse_firing.sparse_pays(self.firing):
            return sample_sparse(self, key, n)
        x, codes = sample(self, key, n)
        return Batch(x, codes, {"redrawn": jnp.bool_(False), "codes_truncated": jnp.bool_(False)})

    def _draw(self, key: jax.Array, n: int):
        return sample(self, key, n)


def firing_probabilities(config: SuperpositionConfig) -> np.ndarray:
    """p_i for the chosen profile, scaled so Σ p_i = mean_l0. Shape [F] (NumPy: no compilation)."""
    rank = np.arange(config.n_features, dtype=np.float64)
    if config.firing == "constant":
        weights = np.ones_like(rank)
    elif config.firing == "zipf":
        weights = (rank + 1.0) ** (-config.zipf_exponent)
    else:
        weights = config.n_features - rank
    return (config.mean_l0 * weights / weights.sum()).astype(np.float32)


def orthogonalize(directions: jax.Array, steps: int, learning_rate: float = 0.1) -> jax.Array:
    """Lower the coherence of unit rows by gradient descent on Σ_{i≠j} (t_i·t_j)².

    Each step is followed by renormalisation, so rows stay unit. With F ≤ d this
    converges to an orthonormal set; with F > d it spreads rows towards a tight frame.
    """

    def off_diagonal_energy(t):
        gram = t @ t.T
        return jnp.sum((gram - jnp.diag(jnp.diag(gram))) ** 2) / t.shape[0]

    def step(t, _):
        t = t - learning_rate * jax.grad(off_diagonal_energy)(t)
        return t / jnp.linalg.norm(t, axis=1, keepdims=True), None

    directions, _ = jax.lax.scan(step, directions, None, length=steps)
    return directions


def build(config: SuperpositionConfig, key: jax.Array) -> SuperpositionToy:
    """Draw the static truth (directions, probabilities, loadings) from `key`."""
    key_directions, key_loadings = jax.random.split(key)
    directions = jax.random.normal(key_directions, (config.n_features, config.d))
    directions = directions / jnp.linalg.norm(directions, axis=1, keepdims=True)
    if config.orthogonalize_steps:
        directions = orthogonalize(directions, config.orthogonalize_steps)
    loadings = jax.random.normal(key_loadings, (config.n_features, config.correlation_rank))
    loadings = loadings / jnp.maximum(jnp.linalg.norm(loadings, axis=1, keepdims=True), 1e-12)
    probabilities = firing_probabilities(config)
    return SuperpositionToy(directions, jnp.asarray(probabilities), loadings, firing_plan(config, probabilities, loadings), config)


def firing_plan(config: SuperpositionConfig, probabilities: np.ndarray, loadings: jax.Array) -> CopulaFiring:
    """The toy's firing model in `sparse_firing`'s form (factor √s l_i, diagonal 1 − s), with
    buffer caps from the config (independent firing) or a fixed-key pilot (correlated), so
    toys of one independent config share them and stack."""
    s = config.correlation_strength if config.correlation_rank else 0.0
    factor = np.sqrt(s) * np.asarray(loadings) if s else np.zeros((config.n_features, 0), np.float32)
    diag_sqrt = np.full(config.n_features, np.sqrt(1.0 - s))
    firing = sparse_firing.plan(probabilities, diag_sqrt, factor, np.arange(config.n_features))
    return sparse_firing.with_caps(firing, probabilities, jax.random.key(0))


def sample(toy: SuperpositionToy, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """The dense reference sampler: n fresh samples as (activations [n, d], true codes [n, F])."""
    config = toy.config
    key_fire, key_factor, key_magnitude, key_noise = jax.random.split(key, 4)
    shape = (n, config.n_features)
    if config.correlation_rank == 0 or config.correlation_strength == 0.0:
        # One uniform draw serves firing and magnitude: given u < p, u/p ~ U(0, 1)
        # independently of firing, which halves the random numbers drawn per sample.
        u = jax.random.uniform(key_fire, shape)
        fires = u < toy.probabilities
        magnitude_quantile = u / toy.probabilities
    else:
        s = config.correlation_strength
        shared = jax.random.normal(key_factor, (n, config.correlation_rank)) @ toy.loadings.T
        latent = jnp.sqrt(1.0 - s) * jax.random.normal(key_fire, shape) + jnp.sqrt(s) * shared
        fires = latent < jax.scipy.special.ndtri(toy.probabilities)
        magnitude_quantile = jax.random.uniform(key_magnitude, shape)
    codes = jnp.where(fires, magnitudes(config, magnitude_quantile), 0.0)
    return embed(codes, toy.directions, config.noise_std, key_noise), codes


def magnitudes(config: SuperpositionConfig, quantile: jax.Array) -> jax.Array:
    """A firing feature's magnitude from a uniform quantile: uniform on [low, high], or the
    folded normal |μ + σ Φ⁻¹(q)|."""
    if config.magnitude == "uniform":
        return config.magnitude_low + (config.magnitude_high - config.magnitude_low) * quantile
    quantile = jnp.clip(quantile, 1e-7, 1.0 - 1e-7)
    return jnp.abs(config.magnitude_mean + config.magnitude_std * jax.scipy.special.ndtri(quantile))


def sample_sparse(toy: SuperpositionToy, key: jax.Array, n: int) -> Batch:
    """n samples, drawn sparsely and exactly (module docstring), whether or not it pays."""
    config, f = toy.config, toy.config.n_features
    key_eps, key_fire, key_magnitude, key_noise, key_dense = jax.random.split(key, 5)
    eps = jax.random.normal(key_eps, (n, toy.firing.factor.shape[1]))
    index, overflow = sparse_firing.active_set(toy.firing, key_fire, eps)
    value = jnp.where(index < f, magnitudes(config, jax.random.uniform(key_magnitude, index.shape)), 0.0)
    codes = SparseCodes(index, value, f)

    def dense():
        x, dense_codes = sample(toy, key_dense, n)
        return x, *SparseCodes.from_dense(dense_codes, toy.firing.active_cap)

    x = sparse_firing.embed(toy.directions, None, codes)
    if config.noise_std > 0:
        x = x + config.noise_std * jax.random.normal(key_noise, x.shape)
    x, codes, truncated = sparse_firing.redraw_if(overflow, (x, codes, jnp.bool_(False)), dense)
    return Batch(x, codes, {"redrawn": overflow, "codes_truncated": truncated})


def embed(codes: jax.Array, directions: jax.Array, noise_std: float, key: jax.Array) -> jax.Array:
    """x = codes @ directions + ε with ε ~ N(0, noise_std² I) (no draw when noise_std = 0), [n, d]."""
    activations = codes @ directions
    if noise_std > 0:
        activations = activations + noise_std * jax.random.normal(key, activations.shape)
    return activations
