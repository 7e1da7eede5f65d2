"""The cells of the circles-grid study, shared by `circles-grid` and `circle-null`.

A cell is one randomly drawn circle setting (period or continuous, d, offset, sparse
features, k, m; `draw_cells`), its toy and null twin (`cell_toy_config`, `null_toy`), the
TopK SAEs trained on both in one call (`train_twins`), a random dictionary read by TopK
(`random_dictionary_codes`), the blind method (`blind_answer`: finder → ranking → claim,
codes and decoder only) and the graders (`score_cell`, `null_cell_top_evidence`,
`blind_summary`); `Config` holds the ranges cells are drawn from and the training settings.
The study `experiments.studies.circles_grid` documents what is read and why.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import memory, seeding
from sae import architectures, metrics, pipeline
from sae.readers import geometry, manifold_finder, manifold_grading, manifold_ranking, topology
from toys import manifolds, superposition
from toys.engine.runtime import or_default
from toys.engine.config import ConfigError, check_each, check_fields, check_range, setting

METHODS = ("recipe", "oracle", "random", "null", "shuffled")
SHAPE_KINDS = ("circle", "sphere", "torus", "helix", "gaussian null", "sparse null")
# what each planted cloud should read as (a helix is an arc: b₁ = 0)
EXPECTED_SHAPE = {"circle": "circle", "sphere": "sphere", "torus": "torus", "helix": "segment or blob",
                  "gaussian null": "segment or blob", "sparse null": "segment or blob"}


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    cells: int = setting(96, "cells drawn at random from the ranges below", low=1)
    periods: tuple[int, int] = setting((5, 24), "P drawn uniformly from this closed range low,high",
                                         allowed="two values low,high: 3 ≤ low ≤ high")
    continuous_share: float = setting(0.2, "probability that a cell's circle is continuous (period 0)", low=0, high=1)
    dims: tuple[int, int] = setting((32, 128), "d drawn uniformly from this closed range low,high",
                                      allowed="two values low,high: 8 ≤ low ≤ high")
    offset: float = setting(2.0, "‖c‖ / r when a cell has an offset (half of them do)", low=0)
    sparse_features: tuple[int, int] = setting((100, 500), "number of sparse features, uniform in low,high",
                                                 allowed="two values low,high: 1 ≤ low ≤ high")
    ks: tuple[int, ...] = setting((1, 2, 4, 8), "k drawn uniformly from these",
                                  allowed="each in [1, the low end of sizes]")
    sizes: tuple[int, int] = setting((256, 2048), "m drawn log-uniformly from low,high",
                                       allowed="two values low,high: 8 ≤ low ≤ high")
    radius: float = setting(1.0, "r of the circle", low=0, low_open=True)
    circle_probability: float = setting(0.2, "P(a sample carries the circle)", low=0, low_open=True, high=1)
    sparse_mean_l0: float = setting(4.0, "the sparse features' expected L0", allowed="(0, the low end of sparse_features]")
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    steps: int = setting(6000, low=1)
    batch_size: int = setting(512, low=1)
    n_geometry: int = setting(16_384, "samples the finder and the scores read", low=geometry.MIN_ORDERING_SAMPLES)
    shape_clouds: int = setting(40, "planted clouds per kind in the shape reader's confusion table", low=0)
    shape_points: int = setting(600, "points per planted cloud", low=topology.MIN_POINTS)

    @classmethod
    def quick(cls) -> "Config":
        return cls(cells=24, steps=2000, batch_size=256, n_geometry=6144, shape_clouds=20)

    def validate(self) -> None:
        check_fields(self)
        _check_interval("periods", self.periods, low=3)
        _check_interval("dims", self.dims, low=8)
        _check_interval("sparse_features", self.sparse_features, low=1)
        check_each("ks", self.ks, low=1, high=self.sizes[0] if len(self.sizes) == 2 else None)
        _check_interval("sizes", self.sizes, low=8)
        check_range("sparse_mean_l0", self.sparse_mean_l0, low=0, low_open=True, high=self.sparse_features[0])


def _check_interval(field: str, pair, low) -> None:
    """A closed range (low, high) of integers with low ≤ high, both ≥ `low`."""
    if len(pair) != 2:
        raise ConfigError(f"{field}: got {len(pair)} values, allowed exactly 2 (low,high)")
    for value in pair:
        check_range(field, value, low=low)
    if pair[0] > pair[1]:
        raise ConfigError(f"{field}: got {pair[0]},{pair[1]}, allowed low ≤ high")


def draw_cells(config: Config) -> list[dict]:
    """The cells, drawn from the ranges with a generator seeded by the run's seed (not hand-picked)."""
    rng = np.random.default_rng([config.seed, 17])
    cells = []
    for _ in range(config.cells):
        continuous = rng.uniform() < config.continuous_share
        cells.append({
            "period": 0 if continuous else int(rng.integers(config.periods[0], config.periods[1] + 1)),
            "d": int(rng.integers(config.dims[0], config.dims[1] + 1)),
            "offset": bool(rng.uniform() < 0.5),
            "n_sparse": int(rng.integers(config.sparse_features[0], config.sparse_features[1] + 1)),
            "k": int(rng.choice(config.ks)),
            "m": int(round(np.exp(rng.uniform(np.log(config.sizes[0]), np.log(config.sizes[1]))))),
        })
    return cells


def cell_toy_config(config: Config, cell: dict) -> manifolds.ManifoldConfig:
    spec = manifolds.ManifoldSpec("circle", values=cell["period"], radius=config.radius,
                                  offset=config.offset * config.radius if cell["offset"] else 0.0,
                                  probability=config.circle_probability)
    return manifolds.ManifoldConfig(cell["d"], (spec,), cell["n_sparse"], config.sparse_mean_l0)


def null_toy(toy: manifolds.ManifoldToy) -> manifolds.ManifoldToy:
    """The same toy with every manifold's vectors zeroed: the same sparse features and labels, no circle."""
    return toy.replace(bases=tuple(jnp.zeros_like(b) for b in toy.bases),
                       offsets=tuple(jnp.zeros_like(o) for o in toy.offsets))


def _planted(toy, sample, phases=None) -> geometry.PlantedCircle:
    spec = toy.config.manifolds[0]
    return geometry.PlantedCircle("circle", np.asarray(toy.plane(0)), manifolds.subspace(toy, 0),
                                  np.asarray(sample.present[:, 0]),
                                  np.asarray(sample.phases[:, 0, 0]) if phases is None else phases,
                                  spec.radius, spec.values)


def _finder_groups(codes, decoder, seed):
    candidates = manifold_finder.candidate_groups(codes, decoder, seed=seed)
    return [latents for _, latents in candidates], [mode for mode, _ in candidates]


def train_twins(config: Config, cell: dict, toy, key_train: jax.Array, runtime=None):
    """The cell's TopK SAE and its null twin's, in one vmapped call: (params, hparams)."""
    twins = jax.tree.map(lambda a, b: jnp.stack([a, b]), toy, null_toy(toy))
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, cell["k"])] * 2)
    result = pipeline.fit("topk", twins, hps, jax.random.split(key_train, 2), n_latents=cell["m"], steps=config.steps,
                          batch_size=config.batch_size, per_run_data=True,
                          label=f"topk P={cell['period']} d={cell['d']} k={cell['k']} m={cell['m']}", runtime=runtime)
    return result.params, hps


def random_dictionary_codes(cell: dict, key_random: jax.Array, x) -> tuple[np.ndarray, np.ndarray]:
    """(codes [n, m], decoder [m, d]) of a random ±1/√d dictionary of the cell's size, encoded by TopK with its k."""
    random_params = pipeline.chance_dictionaries(key_random[None], cell["d"], cell["m"])
    codes = np.asarray(pipeline.chance_codes(random_params, cell["k"], x))
    return codes[0], np.asarray(random_params.W_dec[0])


def blind_answer(codes, decoder, seed: int, null_top=None):
    """The method, truth-free: the finder's candidate groups ranked by circle evidence, the top one tested.
    Returns (groups, found_by, ranked)."""
    groups, found_by = _finder_groups(codes, decoder, seed)
    return groups, found_by, manifold_ranking.rank(codes, decoder, groups, null_top=null_top)


def score_cell(config: Config, cell: dict, key: jax.Array, runtime=None) -> dict:
    """Train the cell's SAE and its null twin (one vmapped call), run the blind method on every
    dictionary, then grade: the blind ranking, its false claims, and the oracle-selected ceiling."""
    key_toy, key_train, key_random, key_sample, key_shuffle = jax.random.split(key, 5)
    toy = manifolds.build(cell_toy_config(config, cell), key_toy)
    params, hps = train_twins(config, cell, toy, key_train, runtime)
    sample = manifolds.sample(toy, key_sample, config.n_geometry)
    null_sample = manifolds.sample(null_toy(toy), key_sample, config.n_geometry)  # same labels and sparse codes
    x = jnp.stack([sample.x, null_sample.x])
    codes = np.asarray(pipeline.encode("topk", params, hps, x))
    decoders = np.asarray(params.W_dec)
    explained = [metrics.explained_variance_of(np.asarray(a), np.asarray(b))
                 for a, b in zip(x, pipeline.reconstruct("topk", params, hps, x))]
    random_codes, random_decoder = random_dictionary_codes(cell, key_random, sample.x)

    # the method: blind, on each dictionary
    recipe_groups, recipe_by, ranked = blind_answer(codes[0], decoders[0], config.seed)
    null_groups, null_by, null_ranked = blind_answer(codes[1], decoders[1], config.seed)
    random_groups, random_by, random_ranked = blind_answer(random_codes, random_decoder, config.seed)

    # the graders: the truth enters here
    circle = _planted(toy, sample)
    present = np.flatnonzero(circle.present)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key_shuffle)))
    shuffled_phases = circle.phases.copy()
    shuffled_phases[present] = rng.permutation(circle.phases[present])
    shuffled = circle._replace(phases=shuffled_phases)
    live = np.any(codes[0] > 0, axis=0)
    wrong = manifold_grading.wrong_plane(circle, manifold_grading.random_plane(rng, decoders[0], live))
    oracle = manifold_grading.oracle_group(decoders[0], live, circle.span)
    plans = {
        "recipe": (codes[0], decoders[0], circle, recipe_groups, recipe_by),
        "oracle": (codes[0], decoders[0], circle, [oracle] if len(oracle) else [], ["oracle"]),
        "random": (random_codes, random_decoder, circle, random_groups, random_by),
        "null": (codes[1], decoders[1], _planted(toy, null_sample), null_groups, null_by),
        "shuffled": (codes[0], decoders[0], shuffled, recipe_groups, recipe_by),
    }
    scored = {}
    for method, (method_codes, decoder, truth, groups, found_by) in plans.items():
        scores, _ = manifold_grading.score_circle(method_codes, decoder, truth, groups, found_by,
                                                 shapes=method != "shuffled", seed=config.seed)
        scores["candidates"] = len(groups)
        scored[method] = scores
    blind = {
        "sae": manifold_grading.grade_ranking(codes[0], decoders[0], recipe_groups, ranked, circle),
        "null": manifold_grading.false_claim(codes[1], decoders[1], null_groups, null_ranked, None),
        "random": manifold_grading.false_claim(random_codes, random_decoder, random_groups, random_ranked, None),
        "random_plane": manifold_grading.false_claim(codes[0], decoders[0], recipe_groups, ranked, wrong),
        "shuffled": manifold_grading.false_claim(codes[0], decoders[0], recipe_groups, ranked, shuffled),
    }
    return {**cell, **scored, "blind": blind, "explained_variance": float(explained[0]),
            "null_explained_variance": float(explained[1]), "oracle_latents": int(len(oracle)),
            "live_latents": int(live.sum())}


def null_cell_top_evidence(config: Config, cell: dict, key: jax.Array, runtime=None) -> dict:
    """The null family behind the claim threshold: a TopK SAE trained on the cell's toy with the
    circle zeroed, and a random dictionary of the cell's size; each one's top circle evidence
    under the blind method (no claim threshold needed to compute it)."""
    key_toy, key_train, key_random, key_sample = jax.random.split(key, 4)
    toy = null_toy(manifolds.build(cell_toy_config(config, cell), key_toy))
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, cell["k"])])
    result = pipeline.fit("topk", toy, hps, key_train[None], n_latents=cell["m"], steps=config.steps,
                          batch_size=config.batch_size, label=f"null topk d={cell['d']} k={cell['k']} m={cell['m']}", runtime=runtime)
    x = manifolds.sample(toy, key_sample, config.n_geometry).x
    codes = np.asarray(pipeline.encode("topk", result.params, hps, x[None]))[0]
    trained = blind_answer(codes, np.asarray(result.params.W_dec[0]), config.seed, null_top=())[2].top_evidence
    random_codes, random_decoder = random_dictionary_codes(cell, key_random, x)
    chance = blind_answer(random_codes, random_decoder, config.seed, null_top=())[2].top_evidence
    return {**cell, "trained_top_evidence": trained, "random_top_evidence": chance}


def rate(cells, method) -> dict:
    hits = sum(bool(cell[method]["found"]) for cell in cells)
    return {"rate": hits / len(cells) if cells else None, "count": hits, "of": len(cells)}


def shape_confusion(config: Config, key: jax.Array, runtime=None) -> dict:
    """{planted kind: {read shape: count}} over `shape_clouds` clouds per kind (SHAPE_KINDS).

    Planted clouds come from toys.manifolds (each kind at its default settings, continuous
    phase, in 16 dimensions, Gaussian noise σ = 0.05 r); the nulls are a Gaussian blob
    with random axis lengths in 4 dimensions and a sum of sparse superposed features (20
    features, L0 = 2).
    """
    table = {kind: {} for kind in SHAPE_KINDS}
    d = 16
    progress = or_default(runtime).progress
    with progress.task(f"shape reader: {len(SHAPE_KINDS)} kinds × {config.shape_clouds} clouds"):
        report = progress.counter()
        for index in range(config.shape_clouds):
            for kind_index, kind in enumerate(SHAPE_KINDS):
                key_cloud = jax.random.fold_in(jax.random.fold_in(key, index), kind_index)
                if kind in manifolds.KINDS:
                    spec = manifolds.ManifoldSpec(kind, kind, values=0, offset=0.0, probability=1.0)
                    toy = manifolds.build(manifolds.ManifoldConfig(d, (spec,), 0, noise_std=0.05), key_cloud)
                    points = np.asarray(manifolds.sample(toy, jax.random.fold_in(key_cloud, 1), config.shape_points).x)
                elif kind == "gaussian null":
                    rng = np.random.default_rng(np.asarray(jax.random.key_data(key_cloud)))
                    points = rng.normal(size=(config.shape_points, 4)) * rng.uniform(0.3, 1.0, 4)
                else:
                    sparse = superposition.build(superposition.SuperpositionConfig(n_features=20, d=d, mean_l0=2.0),
                                                 key_cloud)
                    points = np.asarray(superposition.sample(sparse, jax.random.fold_in(key_cloud, 1),
                                                             config.shape_points)[0])
                shape = topology.topology(points, seed=index).shape
                table[kind][shape] = table[kind].get(shape, 0) + 1
                report("clouds read", index * len(SHAPE_KINDS) + kind_index + 1, config.shape_clouds * len(SHAPE_KINDS))
    return table


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the largest cell's SAE and its null twin, or of its geometry sample's codes."""
    training = memory.sae_training_bytes(runs=2, d=config.dims[1], m=config.sizes[1], batch=config.batch_size,
                                         n_features=config.sparse_features[1],
                                         fields={"n_features": "sparse_features", "d": "dims", "m": "sizes", "batch": "batch_size",
                                                 "runs": "sizes"})
    geometry_bytes = int(memory.SAFETY * memory.FLOAT * 3 * config.n_geometry * (2 * config.sizes[1] + 2 * config.dims[1]))
    return (geometry_bytes, "n_geometry") if geometry_bytes > training[0] else training


CONTROLS = ("null", "random", "random_plane", "shuffled")


def blind_summary(cells: list[dict]) -> dict:
    """The blind method graded: on the oracle-recoverable cells (the oracle group is found), the
    ceiling `exists` (some candidate is found, chosen with the truth) beside recall@1, recall@3 and
    true claims; over all cells, each control's false claims (`sae.readers.manifold_grading`)."""
    seen = [c for c in cells if c["oracle"]["found"]]
    rate = manifold_grading.rate
    return {
        "recoverable_cells": len(seen),
        "exists": rate([c["recipe"]["found"] for c in seen]),
        "recall_at_1": rate([c["blind"]["sae"]["recall_at_1"] for c in seen]),
        "recall_at_3": rate([c["blind"]["sae"]["recall_at_3"] for c in seen]),
        "claimed_found": rate([c["blind"]["sae"]["claimed_found"] for c in seen]),
        "claimed": rate([c["blind"]["sae"]["claimed"] for c in seen]),
        "false_claims": {control: rate([c["blind"][control]["false_claim"] for c in cells]) for control in CONTROLS},
    }


def cell_label(cell: dict) -> str:
    period = f"P={cell['period']}" if cell["period"] else "cont."
    return f"{period} d={cell['d']} {'off' if cell['offset'] else 'no off'} F={cell['n_sparse']} k={cell['k']} m={cell['m']}"
