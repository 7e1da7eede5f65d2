"""The toy protocol: what every toy offers to the code that fits and scores dictionaries.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, d activation dimensions, F true features.

A toy is an object (a JAX pytree, so it can be passed into compiled code) with
- `d`: the activation dimension;
- `sample(key, n) -> Batch`: n fresh samples and the truth for those samples;
- static truth as attributes: `features [F, d]` for toys whose truth is a set of
  directions (superposition, trees, the sparse part of manifolds), planes, trees,
  circuits for the others.

Network toys (a trained model) expose a chosen layer's activations through the same
protocol as a `toys.stored.StoredToy`, so anything that fits and scores dictionaries
takes any toy. `sae` never imports `toys`: it only calls `toy.sample(...)`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
from flax import struct
from jaxtyping import Array, Float

from toys.engine.shapes import OneKey


@runtime_checkable
class SparseCodesLike(Protocol):
    """Sparse true codes (e.g. `toys.synthetic_model.SparseCodes`): what the metrics read of them."""

    def on_at(self, columns) -> jax.Array: ...

    def active_count(self) -> jax.Array: ...


@struct.dataclass
class Batch:
    """n samples and their truth.

    x the activations; codes the true feature coefficients, dense or `SparseCodes`-like (None
    for toys without a feature truth); truth: any other per-sample truth as a dict of arrays
    (manifold phases and presence, class labels, …).
    """

    x: Float[Array, "n d"]
    codes: Float[Array, "n F"] | SparseCodesLike | None = None
    truth: dict[str, Any] | None = None


@runtime_checkable
class Toy(Protocol):
    """Anything with an activation dimension and a sampler that returns a Batch."""

    @property
    def d(self) -> int: ...

    def sample(self, key: OneKey, n: int) -> Batch: ...


class PlantedDirections:
    """Protocol methods for toys whose truth is a set of unit directions `directions` [F, d].

    A subclass (a flax struct dataclass with a `directions` field) defines
    `_draw(key, n) -> (x [n, d], codes [n, F])`.
    """

    directions: Float[Array, "F d"]  # the subclass's field

    def _draw(self, key: OneKey, n: int) -> tuple[Float[Array, "n d"], Float[Array, "n F"]]:
        raise NotImplementedError

    @property
    def d(self) -> int:
        return self.directions.shape[-1]

    @property
    def features(self) -> Float[Array, "F d"]:
        """The true unit feature directions."""
        return self.directions

    def sample(self, key: OneKey, n: int) -> Batch:
        x, codes = self._draw(key, n)
        return Batch(x, codes)
