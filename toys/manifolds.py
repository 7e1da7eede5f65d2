"""Planted multi-dimensional features: circles, multi-frequency circles, helices, tori, spheres.

Axes: n samples, M manifolds, d activation dimensions, F sparse features.

Truth. Manifold i owns an orthonormal basis B_i (rows, [k_i, d]) and an offset
direction w_i, all M bases and offsets mutually orthogonal. A sample carries manifold
i with probability p_i (independently of the others); when it does, it adds
    c_i + Σ_f r a_f (cos fθ · u_f + sin fθ · v_f)        circle (frequencies f, amplitudes a_f)
    c_i + r (cos θ · u + sin θ · v) + h (t − ½) · w'      helix, t = θ / (2π · turns) ∈ [0, 1)
    c_i + r (cos θ · u + sin θ · v) + r₂ (cos φ · u' + sin φ · v')   torus (two independent circles)
    c_i + r (sin φ cos θ · u + sin φ sin θ · v + cos φ · w')         sphere (uniform on S²)
with c_i = offset_i · w_i, the shared "this is a day" direction that the circles found
in language models carry (it makes their latents cluster by cosine). With discrete
values a sample may also carry its value's own identity, s · ι_j (ι_j a random unit
direction per value j, `identity` = s): a "Monday" token is more than its place on the
circle, and this idiosyncratic part is what makes one latent per value worth having. The phase θ takes
P equally spaced values 2πj/P (`values` = P, e.g. 7 days, 12 months; for a helix the
positions j = 0 … P−1 span `turns` turns) or is uniform (`values` = 0). Sparse
superposed features from `toys.superposition` (random unit directions, not orthogonal
to the manifolds) and Gaussian noise can be mixed in.

`sample` returns the activations and the truth per sample: which manifolds are
present, their phases (θ, and φ for a torus or sphere; for a helix the second phase
is t) and the sparse codes. The static truth is `bases`, `offsets` and the config.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, NamedTuple, Self

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from toys import superposition
from toys.engine.config import ConfigError, check_fields, check_range, setting
from toys.protocol import Batch

KINDS = ("circle", "helix", "torus", "sphere")


@dataclasses.dataclass(frozen=True)
class ManifoldSpec:
    """One planted manifold (hashable)."""

    name: str = "days"
    kind: str = setting("circle", choices=KINDS)
    values: int = setting(7, "P equally spaced phases; 0 = a continuous, uniform phase", low=0)
    radius: float = setting(1.0, low=0, low_open=True)
    offset: float = setting(1.0, "norm of the shared offset c", low=0)
    probability: float = setting(0.2, "share of samples that carry this manifold", low=0, low_open=True, high=1)
    frequencies: tuple[int, ...] = setting((1,), "circle only: Σ_f a_f (cos fθ u_f + sin fθ v_f)")
    amplitudes: tuple[float, ...] = (1.0,)
    turns: float = setting(1.0, "helix: turns over the P positions", low=0, low_open=True)
    rise: float = setting(1.0, "helix: total height h along the axis", low=0)
    radius2: float = setting(1.0, "torus: radius of the second circle", low=0, low_open=True)
    identity: float = setting(0.0, "discrete values only: norm s of each value's own random direction ι_j", low=0)

    @property
    def dims(self) -> int:
        """k_i, the dimension of the manifold's linear span (without the offset)."""
        return {"circle": 2 * len(self.frequencies), "helix": 3, "torus": 4, "sphere": 3}[self.kind]

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        p = prefix
        if 0 < self.values < 3 and self.kind != "sphere":
            raise ConfigError(f"{p}values: got {self.values}, allowed 0 (continuous) or [3, inf)")
        if self.kind == "circle":
            if len(self.frequencies) < 1:
                raise ConfigError(f"{p}frequencies: got an empty list, allowed at least one integer in [1, inf)")
            for f in self.frequencies:
                check_range(p + "frequencies", f, low=1)
            if len(set(self.frequencies)) != len(self.frequencies):
                raise ConfigError(f"{p}frequencies: got {self.frequencies}, allowed distinct values")
            if len(self.amplitudes) != len(self.frequencies):
                raise ConfigError(f"{p}amplitudes: got {len(self.amplitudes)} values, allowed one per frequency ({len(self.frequencies)})")
            for a in self.amplitudes:
                check_range(p + "amplitudes", a, low=0, low_open=True)
        if self.identity and not self.values:
            raise ConfigError(f"{p}identity: got {self.identity}, allowed 0 for a continuous phase (values = 0)")


DAYS = ManifoldSpec("days", "circle", values=7)
MONTHS = ManifoldSpec("months", "circle", values=12)


@dataclasses.dataclass(frozen=True)
class ManifoldConfig:
    """Manifolds plus optional sparse superposed features in R^d."""

    d: int = setting(64, low=1)
    manifolds: tuple[ManifoldSpec, ...] = (DAYS, MONTHS)
    n_sparse_features: int = setting(256, low=0)
    sparse_mean_l0: float = 4.0
    noise_std: float = setting(0.0, low=0)

    def sparse_config(self) -> superposition.SuperpositionConfig:
        return superposition.SuperpositionConfig(
            n_features=max(self.n_sparse_features, 1), d=self.d, mean_l0=min(self.sparse_mean_l0, max(self.n_sparse_features, 1))
        )

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        p = prefix
        if not self.manifolds:
            raise ConfigError(f"{p}manifolds: got none, allowed at least one")
        names = [m.name for m in self.manifolds]
        if len(set(names)) != len(names):
            raise ConfigError(f"{p}manifolds: got names {names}, allowed distinct names")
        for spec in self.manifolds:
            spec.validate(prefix=f"{p}{spec.name}.")
        needed = sum(spec.dims + 1 for spec in self.manifolds)
        if needed > self.d:
            raise ConfigError(
                f"{p}d: got {self.d}, allowed range [{needed}, inf) for these manifolds (each needs its span plus an offset direction)"
            )
        if self.n_sparse_features:
            check_range(p + "sparse_mean_l0", self.sparse_mean_l0, low=0, low_open=True, high=self.n_sparse_features)


@struct.dataclass
class ManifoldToy:
    """The static truth: per manifold an orthonormal basis [k_i, d] and a unit offset direction [d]."""

    if TYPE_CHECKING:  # flax.struct.dataclass adds it at run time; declared here for the type checker

        def replace(self, **changes: Any) -> Self: ...

    bases: tuple  # of [k_i, d] arrays; for a circle rows are (u_1, v_1, u_2, v_2, ...)
    offsets: tuple  # of [d] unit vectors w_i
    identities: tuple  # of [P_i, d] unit rows ι_j (P_i = max(values, 1)), scaled by `identity` in samples
    decoupled: tuple  # of scalars: 1 makes a circle's sine coordinate read an independent phase (`decouple`)
    sparse: superposition.SuperpositionToy | None
    config: ManifoldConfig = struct.field(pytree_node=False)

    def plane(self, index: int) -> jax.Array:
        """The planted 2-plane (u, v) of manifold `index`'s first circle, [2, d]."""
        return self.bases[index][:2]

    # the toy protocol (toys.protocol)
    @property
    def d(self) -> int:
        return self.config.d

    @property
    def features(self) -> jax.Array:
        """The sparse features' unit directions [F, d] (F = 0 without sparse features)."""
        return self.sparse.directions if self.sparse is not None else jnp.zeros((0, self.config.d))

    def sample(self, key: jax.Array, n: int) -> Batch:
        """x, the sparse codes, and truth {"present" [n, M] bool, "phases" [n, M, 2]}."""
        s = sample(self, key, n)
        return Batch(s.x, s.codes, {"present": s.present, "phases": s.phases})


class ManifoldSample(NamedTuple):
    x: jax.Array  # [n, d]
    present: jax.Array  # [n, M] bool
    phases: jax.Array  # [n, M, 2]: θ and the second phase (φ; t for a helix; 0 for a circle)
    codes: jax.Array  # [n, F] sparse codes (F = 0 without sparse features)


def build(config: ManifoldConfig, key: jax.Array) -> ManifoldToy:
    """Draw the orthonormal bases and offsets (one QR of a Gaussian matrix) and the sparse toy."""
    key_frame, key_sparse, key_identity = jax.random.split(key, 3)
    sizes = [spec.dims + 1 for spec in config.manifolds]
    frame, _ = jnp.linalg.qr(jax.random.normal(key_frame, (config.d, sum(sizes))))
    bases, offsets, start = [], [], 0
    for spec, size in zip(config.manifolds, sizes):
        block = frame[:, start : start + size].T
        bases.append(block[: spec.dims])
        offsets.append(block[spec.dims])
        start += size
    identities = []
    for i, spec in enumerate(config.manifolds):
        rows = jax.random.normal(jax.random.fold_in(key_identity, i), (max(spec.values, 1), config.d))
        identities.append(rows / jnp.linalg.norm(rows, axis=1, keepdims=True))
    sparse = superposition.build(config.sparse_config(), key_sparse) if config.n_sparse_features else None
    decoupled = tuple(jnp.zeros(()) for _ in config.manifolds)
    return ManifoldToy(tuple(bases), tuple(offsets), tuple(identities), decoupled, sparse, config)


def decouple(toy: ManifoldToy) -> ManifoldToy:
    """The same toy with every circle *decoupled*: c + r Σ_f a_f (cos fθ u_f + sin fθ' v_f), θ' an
    independent draw of θ's law. Each coordinate keeps its marginal law and the same samples carry
    it (co-firing kept), but the points fill a square, not a loop (order gone): a planted no-circle
    that a blind circle claim must not take (the second phase records θ')."""
    return toy.replace(decoupled=tuple(jnp.ones_like(flag) for flag in toy.decoupled))


def _phase(spec: ManifoldSpec, key: jax.Array, n: int) -> jax.Array:
    """θ ∈ [0, 2π·turns): P equally spaced values, or uniform when values = 0."""
    span = 2.0 * math.pi * (spec.turns if spec.kind == "helix" else 1.0)
    if spec.values:
        return span * jax.random.randint(key, (n,), 0, spec.values) / spec.values
    return span * jax.random.uniform(key, (n,))


def manifold_points(
    spec: ManifoldSpec, basis: jax.Array, theta: jax.Array, second: jax.Array, sine_theta: jax.Array | None = None
) -> jax.Array:
    """The manifold's points without the offset, [n, d], from phases θ and the second phase (a
    circle's sine coordinates read `sine_theta` when given: a decoupled circle)."""
    r = spec.radius
    if spec.kind == "circle":
        sine_theta = theta if sine_theta is None else sine_theta
        point = 0.0
        for j, (f, a) in enumerate(zip(spec.frequencies, spec.amplitudes)):
            point = point + r * a * (jnp.cos(f * theta)[:, None] * basis[2 * j] + jnp.sin(f * sine_theta)[:, None] * basis[2 * j + 1])
        return point
    ring = r * (jnp.cos(theta)[:, None] * basis[0] + jnp.sin(theta)[:, None] * basis[1])
    if spec.kind == "helix":
        return ring + spec.rise * (second - 0.5)[:, None] * basis[2]
    if spec.kind == "torus":
        return ring + spec.radius2 * (jnp.cos(second)[:, None] * basis[2] + jnp.sin(second)[:, None] * basis[3])
    # sphere: θ azimuth, φ polar angle
    return r * (
        (jnp.sin(second) * jnp.cos(theta))[:, None] * basis[0]
        + (jnp.sin(second) * jnp.sin(theta))[:, None] * basis[1]
        + jnp.cos(second)[:, None] * basis[2]
    )


def _second_phase(spec: ManifoldSpec, theta: jax.Array, key: jax.Array, n: int) -> jax.Array:
    if spec.kind == "helix":
        return theta / (2.0 * math.pi * spec.turns)
    if spec.kind == "torus":
        return 2.0 * math.pi * jax.random.uniform(key, (n,))
    if spec.kind == "sphere":
        # cos φ uniform on [−1, 1] makes the point uniform on the sphere
        return jnp.arccos(jax.random.uniform(key, (n,), minval=-1.0, maxval=1.0))
    return jnp.zeros((n,))


def sample(toy: ManifoldToy, key: jax.Array, n: int) -> ManifoldSample:
    """Draw n fresh samples with their truth."""
    config = toy.config
    key_sparse, key_noise, *keys = jax.random.split(key, 2 + 3 * len(config.manifolds))
    if toy.sparse is not None:
        x, codes = superposition.sample(toy.sparse, key_sparse, n)
    else:
        x, codes = jnp.zeros((n, config.d)), jnp.zeros((n, 0))
    present, phases = [], []
    for i, spec in enumerate(config.manifolds):
        key_present, key_theta, key_second = keys[3 * i : 3 * i + 3]
        on = jax.random.uniform(key_present, (n,)) < spec.probability
        theta = _phase(spec, key_theta, n)
        second = _second_phase(spec, theta, key_second, n)
        sine_theta = None
        if spec.kind == "circle":  # a decoupled circle's sine reads an independent phase (`decouple`)
            sine_theta = jnp.where(toy.decoupled[i] > 0.5, _phase(spec, key_second, n), theta)
            second = jnp.where(toy.decoupled[i] > 0.5, sine_theta, second)
        point = spec.offset * toy.offsets[i] + manifold_points(spec, toy.bases[i], theta, second, sine_theta)
        if spec.identity:
            value = jnp.round(theta * spec.values / (2.0 * math.pi * (spec.turns if spec.kind == "helix" else 1.0))).astype(jnp.int32)
            point = point + spec.identity * toy.identities[i][value % spec.values]
        x = x + jnp.where(on[:, None], point, 0.0)
        present.append(on)
        phases.append(jnp.stack([theta, second], axis=-1))
    if config.noise_std > 0:
        x = x + config.noise_std * jax.random.normal(key_noise, x.shape)
    return ManifoldSample(x, jnp.stack(present, axis=1), jnp.stack(phases, axis=1), codes)


def subspace(toy: ManifoldToy, index: int) -> np.ndarray:
    """Orthonormal rows spanning manifold `index` including its offset direction, [k_i + 1, d]."""
    return np.vstack([np.asarray(toy.bases[index]), np.asarray(toy.offsets[index])[None]])
