"""Does an SAE spend latents on a planted sphere, and how many, beside the sparse features?

Toy (`toys.manifolds`): a 2-sphere of radius r in a random 3-dim subspace of R^d, centred at
an offset c along a fourth direction, carried by a share of the samples, beside F sparse
features in superposition. The standard arms (`experiments.kernel`): TopK and ReLU
dictionaries of each size and seed, and random dictionaries read by TopK with the same k
(chance), all scored on the same fresh samples.

Graded against the planted truth: `sphere_latents`, the decoder rows with at least
`SPAN_SHARE` of their energy in the sphere's affine span (its 3 basis directions and its
offset direction), and `sphere_best_share`, the largest such share. A random unit row puts
4/d of its energy there on average, so a random dictionary of d = 32 barely ever passes
0.9; a dictionary that tiles the sphere does with many rows. The streamed metrics (MMCS,
F1, …) grade the sparse features.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments.kernel import Arms, Grader, standard_study
from toys import manifolds
from toys.engine.config import check_fields, setting

SPAN_SHARE = 0.9  # a row "on the sphere": ≥ 90% of its energy in the 4-dim affine span (chance ≈ 4/d)


NAME = "sphere"
DESCRIPTION = "a planted 2-sphere beside sparse features: latents spent on the sphere, trained vs random"


@dataclasses.dataclass(frozen=True)
class SphereToy:
    """The toy's settings (`--set toy.…`): a 2-sphere beside sparse features."""

    d: int = setting(32, "activation dimensions", low=5)
    radius: float = setting(1.0, "r of the sphere", low=0, low_open=True)
    offset: float = setting(1.0, "‖c‖ / r: the sphere's centre away from the origin", low=0)
    probability: float = setting(0.5, "share of samples on the sphere", low=0, low_open=True, high=1)
    n_sparse_features: int = setting(64, "sparse features beside the sphere", low=1)
    sparse_mean_l0: float = setting(3.0, "their expected L0", low=0, low_open=True, high="n_sparse_features")

    def manifold_config(self) -> manifolds.ManifoldConfig:
        spec = manifolds.ManifoldSpec(
            "sphere", kind="sphere", values=0, radius=self.radius, offset=self.offset * self.radius, probability=self.probability
        )
        return manifolds.ManifoldConfig(self.d, (spec,), self.n_sparse_features, self.sparse_mean_l0)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        self.manifold_config().validate(prefix)


@dataclasses.dataclass(frozen=True)
class Config(Arms):
    toy: SphereToy = SphereToy()

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=1, steps=1500, batch_size=256)


@dataclasses.dataclass(frozen=True)
class ToyFacts:
    """The toy's facts in results.json ("toy")."""

    d: int
    n_sparse_features: int
    sphere_span_dims: int  # the sphere's span with its offset: 3 + 1
    chance_share: float  # a random direction's expected share of its energy in that span: 4 / d


def _span_shares(decoder: np.ndarray, toy) -> np.ndarray:
    span = np.linalg.qr(np.concatenate([np.asarray(toy.bases[0]), np.asarray(toy.offsets[0])[None]]).T)[0].T  # [4, d]
    rows = decoder / np.maximum(np.linalg.norm(decoder, axis=1, keepdims=True), 1e-12)
    return np.sum((rows @ span.T) ** 2, axis=1)


def grade_sphere(decoder: np.ndarray, toy) -> dict:
    shares = _span_shares(decoder, toy)
    return {"sphere_latents": int(np.sum(shares >= SPAN_SHARE)), "sphere_best_share": float(shares.max())}


STUDY = standard_study(
    NAME,
    DESCRIPTION,
    Config,
    lambda config, key: manifolds.build(config.toy.manifold_config(), key),
    graders=(Grader(("sphere_latents", "sphere_best_share"), grade_sphere),),
    describe_toy=lambda config, toy: ToyFacts(config.toy.d, config.toy.n_sparse_features, 4, 4 / config.toy.d),
    figures=(
        (
            "sphere_latents.png",
            "Latents on the planted sphere (≥ 90% of their energy in its 4-dim span)",
            ("sphere_latents", "sphere_best_share"),
        ),
        ("sparse_recovery.png", "The sparse features beside the sphere: recovery and reconstruction", ("mmcs", "explained_variance")),
    ),
)
