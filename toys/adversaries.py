"""Planted structures that are not circles but could pass for one: the nulls a referee would try
against a blind circle claim.

Axes: n samples, A atoms (the structure's own directions), d activation dimensions, F sparse
features.

Each toy plants one structure, carried by a sample with probability `probability`, beside
sparse superposed features (`toys.superposition`). The structure is a set of atoms [A, d]
(what an ideal dictionary would hold, one latent per atom) and a law for their codes [n, A]:

- **split triangle**: three orthonormal features u, v, w that fire cyclically in pairs
  ((u, v), (v, w), (w, u), magnitudes uniform in [0.2, 1.2]); w is held by two near-duplicate
  atoms `split_angle_deg` apart, the first firing below the median magnitude and the second
  above it (an SAE's split of one feature). Its directions trace a spherical triangle: a
  closed loop, held by four latents, of three directions.
- **helix**: P points c + r(cos θ u + sin θ v) + rise (j/P − ½) w, θ = 2πj/P, one per sample:
  a loop that does not close (its ends are `rise` apart along w).
- **arc**: P points on a circle covering `arc` < ½ of a turn.
- **correlated pair**: two orthonormal features that fire together with correlated magnitudes
  (m₂ = ρ m₁ + √(1 − ρ²) m', all uniform in [0.2, 1.2]; ρ = `correlation`).
- **dense cluster**: `cluster` orthonormal features, each firing with probability ½ whenever
  the cluster is present (dense co-firing, as at TopK k = 8).
- **sphere**: P points spread evenly on a 2-sphere of radius r (a Fibonacci lattice) about c.
- **decoupled circle**: the P × P points c + r(cos θᵢ u + sin θⱼ v): both coordinates have a
  circle's marginal laws and the same samples carry them (co-firing kept), but θᵢ and θⱼ are
  independent, so the points fill a square, not a loop (order gone).

The manifold-like kinds (helix, arc, sphere, decoupled circle) put one atom per point, one
atom firing per sample with code 1. `sample` returns the activations, the atom codes and
{"present": [n] bool}. No kind holds a circle: a circle claim on any of them is false.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import struct

from toys import superposition
from toys.engine.config import ConfigError, check_fields, check_range, setting
from toys.protocol import Batch

KINDS = ("split triangle", "helix", "arc", "correlated pair", "dense cluster", "sphere", "decoupled circle")
MAGNITUDES = (0.2, 1.2)  # uniform code magnitudes of the feature-like kinds


@dataclasses.dataclass(frozen=True)
class AdversaryConfig:
    kind: str = setting("helix", choices=KINDS)
    d: int = setting(64, low=8)
    values: int = setting(16, "P: points of the helix, arc and sphere; the decoupled circle has P × P", low=4)
    radius: float = setting(1.0, low=0, low_open=True)
    offset: float = setting(2.0, "‖c‖ / r of the manifold-like kinds' shared offset", low=0)
    rise: float = setting(1.0, "helix: height over its turn, in radii", low=0, low_open=True)
    arc: float = setting(0.4, "arc: the share of a turn it covers", low=0, low_open=True, high=0.5, high_open=True)
    split_angle_deg: float = setting(3.0, "split triangle: the angle between w's two atoms", low=0, high=90)
    correlation: float = setting(0.9, "correlated pair: ρ between the two magnitudes", low=-1, high=1)
    cluster: int = setting(8, "dense cluster: its features", low=2)
    probability: float = setting(0.2, "P(a sample carries the structure)", low=0, low_open=True, high=1)
    n_sparse_features: int = setting(200, "sparse features beside the structure", low=0)
    sparse_mean_l0: float = setting(4.0, "their expected L0", allowed="(0, n_sparse_features]")

    @property
    def atoms(self) -> int:
        """A, the structure's atoms."""
        return {"split triangle": 4, "correlated pair": 2, "dense cluster": self.cluster, "decoupled circle": self.values**2}.get(
            self.kind, self.values
        )

    @property
    def frame_size(self) -> int:
        """Orthonormal directions the structure needs."""
        return {"split triangle": 4, "correlated pair": 2, "dense cluster": self.cluster}.get(self.kind, 4)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        if self.frame_size > self.d:
            raise ConfigError(f"{prefix}d: got {self.d}, allowed range [{self.frame_size}, inf) for a {self.kind}")
        if self.n_sparse_features:
            check_range(prefix + "sparse_mean_l0", self.sparse_mean_l0, low=0, low_open=True, high=self.n_sparse_features)


@struct.dataclass
class AdversaryToy:
    """The static truth: the structure's atoms [A, d] and the sparse features beside them."""

    atoms: jax.Array
    sparse: superposition.SuperpositionToy | None
    config: AdversaryConfig = struct.field(pytree_node=False)

    @property
    def d(self) -> int:
        return self.config.d

    def sample(self, key: jax.Array, n: int) -> Batch:
        """x [n, d], the atom codes [n, A], truth {"present": [n] bool}."""
        x, codes, present = sample(self, key, n)
        return Batch(x, codes, {"present": present})


def _manifold_atoms(config: AdversaryConfig, frame: jax.Array) -> jax.Array:
    """The points of the manifold-like kinds, [A, d] (module docstring)."""
    u, v, w, c = frame[:4]
    r, p = config.radius, config.values
    j = jnp.arange(p)
    offset = config.offset * r * c
    if config.kind == "helix":
        theta = 2 * math.pi * j / p
        return offset + r * (jnp.cos(theta)[:, None] * u + jnp.sin(theta)[:, None] * v + config.rise * (j / p - 0.5)[:, None] * w)
    if config.kind == "arc":
        theta = 2 * math.pi * config.arc * j / (p - 1)
        return offset + r * (jnp.cos(theta)[:, None] * u + jnp.sin(theta)[:, None] * v)
    if config.kind == "sphere":
        polar = jnp.arccos(1 - 2 * (j + 0.5) / p)
        azimuth = math.pi * (1 + math.sqrt(5)) * j
        return offset + r * (
            (jnp.sin(polar) * jnp.cos(azimuth))[:, None] * u
            + (jnp.sin(polar) * jnp.sin(azimuth))[:, None] * v
            + jnp.cos(polar)[:, None] * w
        )
    # decoupled circle: every (θᵢ, θⱼ) pair
    theta = 2 * math.pi * j / p
    first, second = jnp.repeat(theta, p), jnp.tile(theta, p)
    return offset + r * (jnp.cos(first)[:, None] * u + jnp.sin(second)[:, None] * v)


def build(config: AdversaryConfig, key: jax.Array) -> AdversaryToy:
    """Draw the orthonormal frame (one QR of a Gaussian matrix), the atoms and the sparse toy."""
    key_frame, key_sparse = jax.random.split(key)
    frame = jnp.linalg.qr(jax.random.normal(key_frame, (config.d, config.frame_size)))[0].T
    if config.kind == "split triangle":
        tilt = math.radians(config.split_angle_deg)
        atoms = jnp.stack([frame[0], frame[1], frame[2], math.cos(tilt) * frame[2] + math.sin(tilt) * frame[3]])
    elif config.kind in ("correlated pair", "dense cluster"):
        atoms = frame
    else:
        atoms = _manifold_atoms(config, frame)
    sparse = None
    if config.n_sparse_features:
        sparse = superposition.build(
            superposition.SuperpositionConfig(n_features=config.n_sparse_features, d=config.d, mean_l0=config.sparse_mean_l0), key_sparse
        )
    return AdversaryToy(atoms, sparse, config)


def _uniform(key: jax.Array, shape) -> jax.Array:
    return jax.random.uniform(key, shape, minval=MAGNITUDES[0], maxval=MAGNITUDES[1])


def atom_codes(config: AdversaryConfig, key: jax.Array, n: int) -> jax.Array:
    """The structure's codes on n samples that carry it, [n, A] (module docstring)."""
    key_pick, key_first, key_second = jax.random.split(key, 3)
    rows = jnp.arange(n)
    if config.kind == "split triangle":
        pair = jax.random.randint(key_pick, (n,), 0, 3)
        features = jnp.zeros((n, 3)).at[rows, pair].set(_uniform(key_first, (n,)))
        features = features.at[rows, (pair + 1) % 3].set(_uniform(key_second, (n,)))
        w = features[:, 2]
        split = w > sum(MAGNITUDES) / 2  # the median of the uniform magnitudes
        return jnp.concatenate([features[:, :2], jnp.where(split, 0.0, w)[:, None], jnp.where(split, w, 0.0)[:, None]], 1)
    if config.kind == "correlated pair":
        first = _uniform(key_first, (n,))
        other = _uniform(key_second, (n,))
        rho = config.correlation
        second = rho * first + math.sqrt(1 - rho**2) * other
        middle = sum(MAGNITUDES) / 2
        second = jnp.clip(second + (1 - rho - math.sqrt(1 - rho**2)) * middle, *MAGNITUDES)  # keep the mean and range
        return jnp.stack([first, second], axis=1)
    if config.kind == "dense cluster":
        fires = jax.random.uniform(key_pick, (n, config.cluster)) < 0.5
        return jnp.where(fires, _uniform(key_first, (n, config.cluster)), 0.0)
    pick = jax.random.randint(key_pick, (n,), 0, config.atoms)
    return jax.nn.one_hot(pick, config.atoms)


def sample(toy: AdversaryToy, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """n fresh samples: (x [n, d], atom codes [n, A], present [n] bool)."""
    config = toy.config
    key_sparse, key_present, key_codes = jax.random.split(key, 3)
    present = jax.random.uniform(key_present, (n,)) < config.probability
    codes = jnp.where(present[:, None], atom_codes(config, key_codes, n), 0.0)
    x = codes @ toy.atoms
    if toy.sparse is not None:
        x = x + superposition.sample(toy.sparse, key_sparse, n)[0]
    return x, codes, present
