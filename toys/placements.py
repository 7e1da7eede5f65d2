"""Placement toys: sparse features whose directions are planted with a structure (or none) and
whose firing is correlated with that structure (or not), so that placement and statistics can be
varied apart. A planted-superposition toy (`toys.superposition`) with chosen directions and
copula loadings.

Placement (`placement`), F features in R^d, unit rows, each pulled towards its structure by
`closeness` ε (a fresh Gaussian direction g_i, normalised, added with weight ε, then normalised):

- `clusters`: `groups` random unit centres c_g; feature i (group i mod G) at normalise(c_g + ε g_i);
- `circle`: F equally spaced angles θ_i on a random 2-plane (u, v), normalise(cos θ_i u + sin θ_i v + ε g_i),
  so neighbours on the circle are neighbours in R^d;
- `tree`: `groups` random unit roots; feature i ≥ G is a child of feature (i − G) // 2 (two children each,
  level by level), at normalise(t_parent + ε g_i), so a tree's nodes sit closer the nearer they are in it;
- `random`: random unit directions (no placement structure).

Firing (`firing`): a Gaussian copula of rank r and strength s (`toys.superposition`'s correlated
firing), with loadings l_i:

- `independent`: none (s = 0);
- `placement`: loadings that follow the placement — for clusters the one-hot of i's group (features
  of a group fire together), for a circle (cos θ_i, sin θ_i) (correlation s cos(θ_i − θ_j): neighbours
  co-fire), for a tree the one-hot of i's root (a tree's nodes fire together); for `random` placement,
  the clusters' loadings;
- `shuffled`: the clusters' loadings of a random relabelling of the features: as much correlated
  firing as `placement` on clusters, unrelated to where the features sit.

Truth: the label of each feature (its group, its circle position's index, or its tree's root) and the
directions.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from toys import superposition
from toys.engine.config import ConfigError, check_fields, setting
from toys.sparse_firing import SparseCodes

PLACEMENTS = ("clusters", "circle", "tree", "random")
FIRINGS = ("independent", "placement", "shuffled")


@dataclasses.dataclass(frozen=True)
class PlacementConfig:
    n_features: int = setting(64, "F: planted features", low=4)
    d: int = setting(32, "activation dimensions", low=3)
    mean_l0: float = setting(3.0, "expected true L0: Σ p_i", low=0, low_open=True, high="n_features")
    placement: str = setting("clusters", "where the features sit", choices=PLACEMENTS)
    groups: int = setting(8, "clusters (placement clusters, and the firing groups)", low=2, high="n_features")
    closeness: float = setting(0.3, "ε: weight of each feature's own fresh direction against its structure", low=0)
    firing: str = setting("independent", "what the features' co-firing follows", choices=FIRINGS)
    correlation_strength: float = setting(0.6, "s: share of the copula's variance from the shared factors", low=0, high=1, high_open=True)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        if self.mean_l0 / self.n_features >= 1:
            raise ConfigError(f"{prefix}mean_l0: got {self.mean_l0}, allowed below n_features = {self.n_features}")


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def directions_and_labels(config: PlacementConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The planted directions [F, d] and each feature's structure label [F] (module docstring)."""
    f, d, eps = config.n_features, config.d, config.closeness
    fresh = _unit(rng.normal(size=(f, d)))
    group = np.arange(f) % config.groups
    if config.placement == "clusters":
        centres = _unit(rng.normal(size=(config.groups, d)))
        return _unit(centres[group] + eps * fresh), group
    if config.placement == "circle":
        plane, _ = np.linalg.qr(rng.normal(size=(d, 2)))
        theta = 2 * np.pi * np.arange(f) / f
        ring = np.cos(theta)[:, None] * plane[:, 0] + np.sin(theta)[:, None] * plane[:, 1]
        return _unit(ring + eps * fresh), np.arange(f)
    if config.placement == "tree":
        directions, root = fresh.copy(), np.arange(f)
        for i in range(config.groups, f):  # parents come before their children
            parent = (i - config.groups) // 2
            directions[i] = _unit((directions[parent] + eps * fresh[i])[None])[0]
            root[i] = root[parent]
        return directions, root
    return fresh, group


def loadings(config: PlacementConfig, rng: np.random.Generator) -> np.ndarray:
    """Unit copula loadings [F, r] (r = 0 for independent firing)."""
    f = config.n_features
    if config.firing == "independent":
        return np.zeros((f, 0))
    group = np.arange(f) % config.groups
    if config.placement == "tree" and config.firing == "placement":
        group = directions_and_labels(config, np.random.default_rng(0))[1]  # the roots (the structure, not the draw)
    if config.firing == "shuffled":
        group = group[rng.permutation(f)]
    elif config.placement == "circle":
        theta = 2 * np.pi * np.arange(f) / f
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return np.eye(config.groups)[group]


def build(config: PlacementConfig, key: jax.Array) -> superposition.SuperpositionToy:
    """The toy (a `toys.superposition.SuperpositionToy` with these directions and loadings)."""
    config.validate()
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    directions, _ = directions_and_labels(config, rng)
    load = loadings(config, rng)
    inner = superposition.SuperpositionConfig(
        n_features=config.n_features,
        d=config.d,
        mean_l0=config.mean_l0,
        correlation_rank=load.shape[1],
        correlation_strength=config.correlation_strength if load.shape[1] else 0.0,
    )
    probabilities = superposition.firing_probabilities(inner)
    return superposition.SuperpositionToy(
        jnp.asarray(directions, jnp.float32),
        jnp.asarray(probabilities),
        jnp.asarray(load, jnp.float32),
        superposition.firing_plan(inner, probabilities, jnp.asarray(load)),
        inner,
    )


def true_codes(batch) -> np.ndarray:
    """A sample's true codes as a dense array [n, F] (the sampler returns them sparse where that pays)."""
    codes = batch.codes
    if codes is None:
        raise ValueError("true_codes: the batch carries no codes")
    return np.asarray(codes.dense() if isinstance(codes, SparseCodes) else codes)


def labels(config: PlacementConfig, key: jax.Array) -> np.ndarray:
    """Each planted feature's structure label [F] (the grader's truth), from the same key as `build`."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    return directions_and_labels(config, rng)[1]
