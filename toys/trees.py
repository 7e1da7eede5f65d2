"""Planted hierarchical features: forests of parent → child features in superposition.

Axes: n samples, F features (all levels), d activation dimensions, b branching factor.

Structure: R roots, each the top of a complete tree with `branching` children per
parent and `depth` levels (depth 1 = roots only). Features are numbered level by
level: level l holds R·b^l features, and feature i of level l ≥ 1 has parent
i // b of level l − 1. Truth arrays: `parents` [F] (−1 for roots), `depths` [F]
(0 for roots), `exclusive` [F] (whether a feature's children are mutually exclusive;
False for leaves).

Firing (every child fires only when its parent fires):
- root r fires with probability p_r ∝ (r + 1)^−α (α = `root_zipf_exponent`; 0 gives
  equal roots), scaled so that the expected number of active features is `mean_l0`;
- given that its parent fires, each child fires with probability q
  (`child_probability`). Children of an exclusive parent never fire together: one
  uniform v per parent picks child ⌊v/q⌋ (none when v ≥ b·q), so each child still
  fires with probability q, and b·q ≤ 1 is required. Children of other parents fire
  independently of each other.
So feature f at depth l fires with probability p_root(f) · q^l, and the expected L0 is
Σ_r p_r · Σ_{l<depth} (b q)^l.

Values: c_f = z_f · a_f with magnitudes a_f ~ U[magnitude_low, magnitude_high]; with
`scale_by_parent` a child's magnitude is multiplied by its parent's. x = Σ_f c_f t_f + ε.

Directions t_f: independent uniform unit vectors (`orthonormal`: an orthonormal set,
needs F ≤ d). With `closeness` ε set, each child is pulled towards its parent:
t_child = normalise(t_parent + ε · g), g a fresh unit vector (small ε: close).

The exact two-feature absorption toy (Chanin et al.) is the case R = 1, b = 1,
depth = 2, orthonormal, magnitudes 1: the parent fires alone with probability
p10 = p_root (1 − q) and with its child with probability p11 = p_root q
(`two_feature_config`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from toys.engine.config import ConfigError, check_fields, check_range, setting
from toys.protocol import PlantedDirections
from toys.superposition import embed


@dataclasses.dataclass(frozen=True)
class TreeConfig:
    """Static description of a hierarchical toy (hashable; safe as a jit static)."""

    n_roots: int = setting(24, "R: trees", low=1)
    branching: int = setting(3, "children per parent", low=1)
    depth: int = setting(3, "levels per tree (roots included)", low=1)
    d: int = setting(64, "activation dimensions", low=1)
    mean_l0: float = setting(
        6.0,
        "expected true L0 (sets the roots' probabilities)",
        low=0,
        low_open=True,
        allowed="(0, the L0 at which the likeliest root fires always]",
    )
    child_probability: float = setting(0.3, "q: P(child fires | parent fires)", low=0, low_open=True, high=1)
    exclusive_fraction: float = setting(0.5, "share of parents whose children are mutually exclusive", low=0, high=1)
    root_zipf_exponent: float = setting(0.0, "Zipf exponent of the roots' probabilities (0: equal)", low=0)
    scale_by_parent: bool = setting(False, "a child's magnitude is multiplied by its parent's")
    closeness: float | None = setting(
        None, "ε: a child's direction is normalise(t_parent + ε·fresh) (none: independent)", low=0, low_open=True, none_allowed=True
    )
    orthonormal: bool = setting(False, "feature directions orthonormal (needs F ≤ d)")
    magnitude_low: float = setting(0.5, "magnitudes: lower end", low=0, low_open=True)
    magnitude_high: float = setting(1.5, "magnitudes: upper end", low="magnitude_low")
    noise_std: float = setting(0.0, "σ of isotropic Gaussian noise added to x", low=0)

    @property
    def level_sizes(self) -> tuple[int, ...]:
        return tuple(self.n_roots * self.branching**level for level in range(self.depth))

    @property
    def n_features(self) -> int:
        if self.branching == 1:
            return self.n_roots * self.depth
        total, level = 0, self.n_roots
        for _ in range(self.depth):
            total += level
            if total > 2**62:  # beyond any memory (the memory check refuses it); never a 2³¹-level sum
                return total
            level *= self.branching
        return total

    @property
    def n_parents(self) -> int:
        """Features that have children (all but the last level)."""
        return sum(self.level_sizes[:-1])

    def validate(self, prefix: str = "") -> None:
        """Raise ConfigError naming the first field outside its allowed range."""
        check_fields(self, prefix)
        p = prefix
        q_high = 1.0 / self.branching if self.exclusive_fraction > 0 and self.depth > 1 else 1.0
        if q_high < 1.0 and not 0 < self.child_probability <= q_high:
            raise ConfigError(
                f"{p}child_probability: got {self.child_probability!r}, allowed range (0, 1/branching = {q_high:.4g}] "
                "when some parents have mutually exclusive children"
            )
        if self.orthonormal:
            check_range(p + "d", self.d, low=self.n_features)  # an orthonormal set needs F ≤ d
        limit = self.mean_l0 / float(root_probabilities(self).max())
        check_range(p + "mean_l0", self.mean_l0, low=0, low_open=True, high=limit)


def two_feature_config(p10: float = 0.3, p11: float = 0.2, d: int = 2) -> TreeConfig:
    """The exact absorption toy: parent alone with probability p10, parent + child with p11."""
    root = p10 + p11
    q = p11 / root
    return TreeConfig(
        n_roots=1,
        branching=1,
        depth=2,
        d=d,
        mean_l0=root * (1 + q),
        child_probability=q,
        exclusive_fraction=0.0,
        orthonormal=True,
        magnitude_low=1.0,
        magnitude_high=1.0,
    )


def root_probabilities(config: TreeConfig) -> np.ndarray:
    """p_r for each root, [R]: Zipf weights scaled so the expected L0 is mean_l0 (NumPy)."""
    weights = (np.arange(config.n_roots, dtype=np.float64) + 1.0) ** (-config.root_zipf_exponent)
    per_root = sum((config.branching * config.child_probability) ** level for level in range(config.depth))
    return config.mean_l0 * weights / weights.sum() / per_root


def structure(config: TreeConfig) -> tuple[np.ndarray, np.ndarray]:
    """(parents [F], depths [F]) of the complete forest, numbered level by level (NumPy)."""
    parents, depths, start = [], [], 0
    for level, size in enumerate(config.level_sizes):
        depths.append(np.full(size, level))
        if level == 0:
            parents.append(np.full(size, -1))
        else:
            previous = config.level_sizes[level - 1]
            parents.append(start - previous + np.arange(size) // config.branching)
        start += size
    return np.concatenate(parents).astype(np.int32), np.concatenate(depths).astype(np.int32)


def firing_probabilities(config: TreeConfig) -> np.ndarray:
    """Marginal P(feature fires) = p_root(f) · q^depth(f), [F] (NumPy)."""
    parents, depths = structure(config)
    roots = np.arange(config.n_features)
    for _ in range(config.depth - 1):  # follow parents up to the root
        roots = np.where(parents[roots] >= 0, parents[roots], roots)
    return root_probabilities(config)[roots] * config.child_probability**depths


@struct.dataclass
class TreeToy(PlantedDirections):
    """A built hierarchical toy: truth arrays plus the static config (a jit-friendly pytree)."""

    directions: jax.Array  # [F, d] unit rows t_f
    parents: jax.Array  # [F] int32, −1 for roots
    depths: jax.Array  # [F] int32
    exclusive: jax.Array  # [F] bool: this feature's children are mutually exclusive
    root_probabilities: jax.Array  # [R]
    config: TreeConfig = struct.field(pytree_node=False)

    def _draw(self, key: jax.Array, n: int):
        return sample(self, key, n)


def _unit(v):
    return v / jnp.linalg.norm(v, axis=-1, keepdims=True)


def build(config: TreeConfig, key: jax.Array) -> TreeToy:
    """Draw directions and which parents have exclusive children from `key`."""
    key_directions, key_fresh, key_exclusive = jax.random.split(key, 3)
    F, d = config.n_features, config.d
    if config.orthonormal:
        q, _ = jnp.linalg.qr(jax.random.normal(key_directions, (d, F)))
        directions = q.T
    else:
        directions = _unit(jax.random.normal(key_directions, (F, d)))
    parents, depths = structure(config)
    if config.closeness is not None:
        # level by level, so a grandchild is pulled towards its already-pulled parent
        fresh = _unit(jax.random.normal(key_fresh, (F, d)))
        start = config.level_sizes[0]
        for size in config.level_sizes[1:]:
            rows = np.arange(start, start + size)
            pulled = _unit(directions[parents[rows]] + config.closeness * fresh[rows])
            directions = directions.at[rows].set(pulled)
            start += size
    n_exclusive = int(round(config.exclusive_fraction * config.n_parents))
    rank = jnp.argsort(jax.random.uniform(key_exclusive, (config.n_parents,)))
    exclusive = jnp.zeros(F, bool).at[: config.n_parents].set(rank < n_exclusive)
    return TreeToy(
        directions, jnp.asarray(parents), jnp.asarray(depths), exclusive, jnp.asarray(root_probabilities(config), jnp.float32), config
    )


def sample(toy: TreeToy, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Draw n samples. Returns (activations [n, d], true codes [n, F])."""
    config = toy.config
    b, q = config.branching, config.child_probability
    key_roots, key_children, key_magnitude, key_noise = jax.random.split(key, 4)
    fires = [jax.random.uniform(key_roots, (n, config.n_roots)) < toy.root_probabilities]
    start = 0
    for level, size in enumerate(config.level_sizes[1:], start=1):
        previous = config.level_sizes[level - 1]
        key_independent, key_choice = jax.random.split(jax.random.fold_in(key_children, level))
        parent_fires = jnp.repeat(fires[-1], b, axis=1)  # [n, size]
        independent = jax.random.uniform(key_independent, (n, size)) < q
        # exclusive parents: one draw v per parent picks child ⌊v/q⌋ (no child when v ≥ b·q)
        slot = jnp.floor(jax.random.uniform(key_choice, (n, previous)) / q).astype(jnp.int32)
        chosen = jnp.repeat(slot, b, axis=1) == jnp.tile(jnp.arange(b), previous)
        exclusive_parent = jnp.repeat(toy.exclusive[start : start + previous], b)
        fires.append(parent_fires & jnp.where(exclusive_parent, chosen, independent))
        start += previous
    fires = jnp.concatenate(fires, axis=1)
    low, high = config.magnitude_low, config.magnitude_high
    magnitudes = low + (high - low) * jax.random.uniform(key_magnitude, fires.shape)
    if config.scale_by_parent:
        parents = structure(config)[0]
        start = config.level_sizes[0]
        for size in config.level_sizes[1:]:  # level by level, so scaling compounds down the tree
            rows = np.arange(start, start + size)
            magnitudes = magnitudes.at[:, rows].multiply(magnitudes[:, parents[rows]])
            start += size
    codes = jnp.where(fires, magnitudes, 0.0)
    return embed(codes, toy.directions, config.noise_std, key_noise), codes
