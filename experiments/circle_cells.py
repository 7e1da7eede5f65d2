"""The cells of the circles-grid study, shared by `circles-grid` and `circle-null`.

A cell is one randomly drawn circle setting (period or continuous, d, offset, sparse
features, k, m; `draw_cells`), its toy and null twin (`cell_toy_config`, `null_toy`), the
TopK SAEs trained on both in one call (`train_twins`), a random dictionary read by TopK
(`random_dictionary`), the blind method (`blind_answer`: finder → ranking → claim,
codes and decoder only) and the graders (`score_cell`, `null_cell_top_evidence`,
`blind_summary`); `Config` holds the ranges cells are drawn from and the training settings.
The study `experiments.studies.circles_grid` documents what is read and why.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import memory, seeding, table
from sae import architectures, metrics, pipeline
from sae.readers import activation_ring, geometry, manifold_grading, manifold_ranking, topology, wall
from toys import manifolds, superposition
from toys.engine.config import ConfigError, check_each, check_fields, check_range, setting
from toys.engine.runtime import or_default

METHODS = ("recipe", "oracle", "random", "null", "decoupled")
SHAPE_KINDS = ("circle", "sphere", "torus", "helix", "gaussian null", "sparse null")
# what each planted cloud should read as (a helix is an arc: b₁ = 0)
EXPECTED_SHAPE = {
    "circle": "circle",
    "sphere": "sphere",
    "torus": "torus",
    "helix": "segment or blob",
    "gaussian null": "segment or blob",
    "sparse null": "segment or blob",
}


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    cells: int = setting(96, "cells drawn at random from the ranges below", low=1)
    periods: tuple[int, int] = setting(
        (5, 24), "P drawn uniformly from this closed range low,high", allowed="two values low,high: 3 ≤ low ≤ high"
    )
    continuous_share: float = setting(0.2, "probability that a cell's circle is continuous (period 0)", low=0, high=1)
    dims: tuple[int, int] = setting(
        (32, 128), "d drawn uniformly from this closed range low,high", allowed="two values low,high: 8 ≤ low ≤ high"
    )
    offset: float = setting(2.0, "‖c‖ / r when a cell has an offset (half of them do)", low=0)
    sparse_features: tuple[int, int] = setting(
        (100, 500), "number of sparse features, uniform in low,high", allowed="two values low,high: 1 ≤ low ≤ high"
    )
    ks: tuple[int, ...] = setting((1, 2, 4, 8), "k drawn uniformly from these", allowed="each in [1, the low end of sizes]")
    sizes: tuple[int, int] = setting((256, 2048), "m drawn log-uniformly from low,high", allowed="two values low,high: 8 ≤ low ≤ high")
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
        cells.append(
            {
                "period": 0 if continuous else int(rng.integers(config.periods[0], config.periods[1] + 1)),
                "d": int(rng.integers(config.dims[0], config.dims[1] + 1)),
                "offset": bool(rng.uniform() < 0.5),
                "n_sparse": int(rng.integers(config.sparse_features[0], config.sparse_features[1] + 1)),
                "k": int(rng.choice(config.ks)),
                "m": int(round(np.exp(rng.uniform(np.log(config.sizes[0]), np.log(config.sizes[1]))))),
            }
        )
    return cells


def cell_toy_config(config: Config, cell: dict) -> manifolds.ManifoldConfig:
    spec = manifolds.ManifoldSpec(
        "circle",
        values=cell["period"],
        radius=config.radius,
        offset=config.offset * config.radius if cell["offset"] else 0.0,
        probability=config.circle_probability,
    )
    return manifolds.ManifoldConfig(cell["d"], (spec,), cell["n_sparse"], config.sparse_mean_l0)


def null_toy(toy: manifolds.ManifoldToy) -> manifolds.ManifoldToy:
    """The same toy with every manifold's vectors zeroed: the same sparse features and labels, no circle."""
    return toy.replace(bases=tuple(jnp.zeros_like(b) for b in toy.bases), offsets=tuple(jnp.zeros_like(o) for o in toy.offsets))


def _planted(toy, sample, phases=None) -> geometry.PlantedCircle:
    spec = toy.config.manifolds[0]
    return geometry.PlantedCircle(
        "circle",
        np.asarray(toy.plane(0)),
        manifolds.subspace(toy, 0),
        np.asarray(sample.present[:, 0]),
        np.asarray(sample.phases[:, 0, 0]) if phases is None else phases,
        spec.radius,
        spec.values,
    )


def twin_toys(toy: manifolds.ManifoldToy) -> list[manifolds.ManifoldToy]:
    """The toys one cell trains on, in one vmapped call: the toy, its null twin (the circle zeroed) and
    its decoupled twin (the circle's two coordinates read independent phases, `toys.manifolds.decouple`)."""
    return [toy, null_toy(toy), manifolds.decouple(toy)]


def train_twins(config: Config, cell: dict, toy, key_train: jax.Array, runtime=None):
    """The cell's TopK SAE and its twins' (`twin_toys`), in one vmapped call: (params, hparams), runs in
    the order of `twin_toys`."""
    toys = twin_toys(toy)
    stacked = pipeline.stack(toys)
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, cell["k"])] * len(toys))
    result = pipeline.fit(
        "topk",
        stacked,
        hps,
        jax.random.split(key_train, len(toys)),
        n_latents=cell["m"],
        steps=config.steps,
        batch_size=config.batch_size,
        per_run_data=True,
        label=f"topk P={cell['period']} d={cell['d']} k={cell['k']} m={cell['m']}",
        runtime=runtime,
    )
    return result.params, hps


def random_dictionary(cell: dict, key_random: jax.Array, sample) -> wall.Observation:
    """The observation of a random ±1/√d dictionary of the cell's size, encoded by TopK with its k."""
    random_params = pipeline.chance_dictionaries(key_random[None], cell["d"], cell["m"])
    return wall.observe_chance(sample, random_params, cell["k"])


def blind_answer(observation: wall.Observation, config, null_top=None, source: str = "") -> manifold_ranking.Answer:
    """The method, truth-free, through the wall's one road (`wall.apply`): `manifold_ranking.find_and_rank`
    on the observation's codes and decoder with the config's seed, its top tested against `null_top` (a
    calibration from `source`; None: ranked, nothing claimed)."""
    given = wall.settings(config, seed="seed")
    if null_top is not None:
        given = given.with_calibration("null_top", np.asarray(null_top, np.float64), source)
    return wall.apply(manifold_ranking.find_and_rank, observation, ("x", "codes", "decoder"), given)


def score_cell(config: Config, cell: dict, key: jax.Array, runtime=None) -> dict:
    """Train the cell's SAE and its null and decoupled twins (one vmapped call), run the blind method
    on every dictionary (and a random one), then grade: the blind ranking against the truth, and
    the oracle-selected ceiling. The blind answers are recorded with their top evidence; whether a
    top candidate is *claimed* depends on the null it is tested against, decided for all cells at
    once by `claim_cells`."""
    key_toy, key_train, key_random, key_sample = jax.random.split(key, 4)
    toy = manifolds.build(cell_toy_config(config, cell), key_toy)
    params, hps = train_twins(config, cell, toy, key_train, runtime)
    samples = [
        manifolds.sample(t, key_sample, config.n_geometry)  # the same labels and sparse codes
        for t in twin_toys(toy)
    ]
    x = jnp.stack([sample.x for sample in samples])
    explained = [
        metrics.explained_variance_of(np.asarray(a), np.asarray(b)) for a, b in zip(x, pipeline.reconstruct("topk", params, hps, x))
    ]

    # the method: blind, on each dictionary's observation (claims come later, against the null: claim_cells)
    observations = dict(zip(("recipe", "null", "decoupled"), wall.observe_grid(samples, "topk", params, hps)))
    observations["random"] = random_dictionary(cell, key_random, samples[0])
    answers = {name: blind_answer(seen, config) for name, seen in observations.items()}
    dictionaries = {name: (seen.codes, seen.decoder) for name, seen in observations.items()}
    codes = np.stack([observations[name].codes for name in ("recipe", "null", "decoupled")])
    decoders = np.stack([observations[name].decoder for name in ("recipe", "null", "decoupled")])

    # the graders: the truth enters here
    circle = _planted(toy, samples[0])
    live = np.any(codes[0] > 0, axis=0)
    oracle = manifold_grading.oracle_group(decoders[0], live, circle.span)
    truths = {
        "recipe": circle,
        "oracle": circle,
        "random": circle,
        "null": _planted(toy, samples[1]),
        "decoupled": _planted(toy, samples[2]),
    }
    scored = {}
    for method, truth in truths.items():
        method_codes, decoder = dictionaries["recipe" if method == "oracle" else method]
        groups, found_by = ([oracle] if len(oracle) else [], ["oracle"]) if method == "oracle" else answers[method][:2]
        scores, _ = manifold_grading.score_circle(
            method_codes, decoder, truth, groups, found_by, shapes=method != "decoupled", seed=config.seed
        )
        scores["candidates"] = len(groups)
        scored[method] = scores
    recipe_groups, _, ranked = answers["recipe"]
    graded = manifold_grading.grade_ranking(codes[0], decoders[0], recipe_groups, ranked, circle)
    blind = {"sae": {key: graded[key] for key in ("recall_at_1", "recall_at_3", "first_found_rank", "top_evidence", "candidates")}}
    blind["sae"]["top_ring"] = ranked.top_ring
    for control in CONTROLS:
        groups, _, control_ranked = answers[control]
        blind[control] = {"top_evidence": control_ranked.top_evidence, "top_ring": control_ranked.top_ring, "candidates": len(groups)}
    return {
        **cell,
        **scored,
        "blind": blind,
        "explained_variance": float(explained[0]),
        "null_explained_variance": float(explained[1]),
        "oracle_latents": int(len(oracle)),
        "live_latents": int(live.sum()),
    }


def claim_cells(cells: list[dict], stored: dict | None) -> str:
    """Decide every blind claim of the cells in place, and say which null decided them.

    stored: {k: null tops} of a stored stratum matching the run's settings, or None: then the null
    of each k is the run's own null twins at that k: every other cell's null twin for the null
    twin's own claim (leave one out, so the null twin is exchangeable with its null), all of them
    for the other dictionaries. Per dictionary: p_value and claimed (p ≤ α and its top candidate holds a
    ring in its activations, `top_ring`); the SAE's claimed_found
    (claimed and its top candidate found); each control's false_claim (any claim is false)."""
    for index, cell in enumerate(cells):
        k = cell["k"]
        twins = [other["blind"]["null"]["top_evidence"] for other in cells if other["k"] == k]
        others = [other["blind"]["null"]["top_evidence"] for j, other in enumerate(cells) if other["k"] == k and j != index]
        for name, entry in cell["blind"].items():
            null = stored[k] if stored is not None else (others if name == "null" else twins)
            entry["null_size"] = len(null)
            entry["p_value"] = manifold_ranking.p_value(entry["top_evidence"], null)
            # a claim: p ≤ α and a ring in the activations where the top candidate fires (manifold_ranking);
            # "on evidence": p ≤ α alone, the claim before its second condition, reported beside it
            entry["claimed_on_evidence"] = entry["p_value"] <= manifold_ranking.CLAIM_ALPHA
            entry["claimed"] = entry["claimed_on_evidence"] and activation_ring.holds_ring(entry["top_ring"])
            if name == "sae":
                entry["claimed_found"] = bool(entry["claimed"] and entry["recall_at_1"])
                entry["claimed_found_on_evidence"] = bool(entry["claimed_on_evidence"] and entry["recall_at_1"])
            else:
                entry["false_claim"] = entry["claimed"]
    if stored is not None:
        return "stored stratum (" + ", ".join(f"k={k}: {len(tops)} null SAEs" for k, tops in sorted(stored.items())) + ")"
    return "the run's own null twins at each k (leave one out for the null twin's own claim)"


@dataclasses.dataclass(frozen=True)
class ClaimFacts:
    """What a blind-claim run's numbers were made under (its results.json, beside the table,
    `experiments.runner.facts`): the claim level α and the stratum of the null its claims are decided
    against."""

    alpha: float
    stratum: manifold_ranking.Stratum


def stratum(config: Config) -> manifold_ranking.Stratum:
    """What the null's upper tail depends on besides k: the training budget and the sample count."""
    return manifold_ranking.Stratum(config.steps, config.batch_size, config.n_geometry)


def null_cell_dictionaries(config: Config, cell: dict, key: jax.Array, runtime=None):
    """A null cell's TopK SAEs, one per k of `config.ks` (one vmapped call), trained on the cell's toy
    with the circle zeroed: (params, hparams)."""
    key_toy, key_train = jax.random.split(key, 4)[:2]
    toy = null_toy(manifolds.build(cell_toy_config(config, cell), key_toy))
    ks = tuple(config.ks)
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, k) for k in ks])
    result = pipeline.fit(
        "topk",
        toy,
        hps,
        jax.random.split(key_train, len(ks)),
        n_latents=cell["m"],
        steps=config.steps,
        batch_size=config.batch_size,
        label=f"null topk d={cell['d']} m={cell['m']} k={','.join(map(str, ks))}",
        runtime=runtime,
    )
    return result.params, hps


def null_cell_tops(config: Config, cell: dict, key: jax.Array, params, hps) -> dict:
    """The blind method's top evidence on a null cell's dictionaries (`null_cell_dictionaries`) and on
    a random dictionary of the cell's size read by TopK at each k: {"trained_top_evidence": {k: e},
    "random_top_evidence": {k: e}} (no claim threshold needed to compute them)."""
    key_toy, _, key_random, key_sample = jax.random.split(key, 4)
    toy = null_toy(manifolds.build(cell_toy_config(config, cell), key_toy))
    sample = manifolds.sample(toy, key_sample, config.n_geometry)
    random_params = pipeline.chance_dictionaries(key_random[None], cell["d"], cell["m"])
    trained, chance = {}, {}
    for k, observation in zip(config.ks, wall.observe_grid(sample, "topk", params, hps)):
        trained[str(k)] = blind_answer(observation, config).ranked.top_evidence
        chance[str(k)] = blind_answer(wall.observe_chance(sample, random_params, k), config).ranked.top_evidence
    return {"trained_top_evidence": trained, "random_top_evidence": chance}


def null_cell_top_evidence(config: Config, cell: dict, key: jax.Array, runtime=None) -> dict:
    """The null family behind the claim threshold, one cell: TopK SAEs trained at every k of
    `config.ks` on the cell's toy with the circle zeroed, and a random dictionary of the cell's size
    read by TopK at each k; each one's top circle evidence under the blind method, {k: e} per family."""
    params, hps = null_cell_dictionaries(config, cell, key, runtime)
    described = {name: value for name, value in cell.items() if name != "k"}  # every k is trained
    return {**described, **null_cell_tops(config, cell, key, params, hps)}


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
    table: dict[str, dict] = {kind: {} for kind in SHAPE_KINDS}
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
                    sparse = superposition.build(superposition.SuperpositionConfig(n_features=20, d=d, mean_l0=2.0), key_cloud)
                    points = np.asarray(superposition.sample(sparse, jax.random.fold_in(key_cloud, 1), config.shape_points)[0])
                shape = topology.topology(points, seed=index).shape
                table[kind][shape] = table[kind].get(shape, 0) + 1
                report("clouds read", index * len(SHAPE_KINDS) + kind_index + 1, config.shape_clouds * len(SHAPE_KINDS))
    return table


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the largest cell's SAE and its null twin, or of its geometry sample's codes."""
    training = memory.sae_training_bytes(
        runs=2,
        d=config.dims[1],
        m=config.sizes[1],
        batch=config.batch_size,
        n_features=config.sparse_features[1],
        fields={"n_features": "sparse_features", "d": "dims", "m": "sizes", "batch": "batch_size", "runs": "sizes"},
    )
    geometry_bytes = int(memory.SAFETY * memory.FLOAT * 3 * config.n_geometry * (2 * config.sizes[1] + 2 * config.dims[1]))
    return (geometry_bytes, "n_geometry") if geometry_bytes > training[0] else training


CONTROLS = ("null", "decoupled", "random")
LATENT_BINS = ((0, 4), (5, 8), (9, 16), (17, None))  # latents on the circle (the oracle group), closed ranges


def _bin_label(low: int, high: int | None) -> str:
    return f"{low}–{high}" if high is not None else f"≥ {low}"


def blind_summary(cells: list[dict]) -> dict:
    """The blind method graded (after `claim_cells`): on the oracle-recoverable cells (the oracle group
    is found), the ceiling `exists` (some candidate is found, chosen with the truth) beside recall@1,
    recall@3 and true claims; the same over all cells (the oracle is a ceiling, not a filter a
    method could apply); true claims by offset and by the latents on the circle; each control's
    false claims, over all cells and per k, with exact 95% intervals."""
    seen = [c for c in cells if c["oracle"]["found"]]
    rate = manifold_grading.rate
    by_offset = {
        ("offset" if offset else "no offset"): rate([c["blind"]["sae"]["claimed_found"] for c in cells if c["offset"] == offset])
        for offset in (True, False)
    }
    by_latents = {
        _bin_label(low, high): rate(
            [
                c["blind"]["sae"]["claimed_found"]
                for c in cells
                if low <= c["oracle_latents"] and (high is None or c["oracle_latents"] <= high)
            ]
        )
        for low, high in LATENT_BINS
    }
    ks = sorted({c["k"] for c in cells})
    return {
        "recoverable_cells": len(seen),
        "exists": rate([c["recipe"]["found"] for c in seen]),
        "recall_at_1": rate([c["blind"]["sae"]["recall_at_1"] for c in seen]),
        "recall_at_3": rate([c["blind"]["sae"]["recall_at_3"] for c in seen]),
        "claimed_found": rate([c["blind"]["sae"]["claimed_found"] for c in seen]),
        "claimed": rate([c["blind"]["sae"]["claimed"] for c in seen]),
        "all_cells": {
            "recall_at_1": rate([c["blind"]["sae"]["recall_at_1"] for c in cells]),
            "claimed_found": rate([c["blind"]["sae"]["claimed_found"] for c in cells]),
        },
        "claimed_found_by_offset": by_offset,
        "claimed_found_by_latents": by_latents,
        "false_claims": {control: rate([c["blind"][control]["false_claim"] for c in cells]) for control in CONTROLS},
        "false_claims_by_k": {
            str(k): {control: rate([c["blind"][control]["false_claim"] for c in cells if c["k"] == k]) for control in CONTROLS} for k in ks
        },
        # the claim before its second condition (a ring in the activations): p ≤ α alone
        "on_evidence": {
            "claimed_found": rate([c["blind"]["sae"]["claimed_found_on_evidence"] for c in seen]),
            "all_cells_claimed_found": rate([c["blind"]["sae"]["claimed_found_on_evidence"] for c in cells]),
            "false_claims": {control: rate([c["blind"][control]["claimed_on_evidence"] for c in cells]) for control in CONTROLS},
        },
    }


def blind_from_table(rows: list[table.Row]) -> dict:
    """`blind_summary`, read back from the results table's `cell_rows` (the same dict)."""
    rate = manifold_grading.rate

    def by_cell(arm: str, metric: str, reader: str = "blind ranking") -> dict:
        return {row.setting["cell"]: row for row in table.select(rows, arm=arm, metric=metric, reader=reader)}

    found = by_cell("oracle", "found", "ceiling")
    cells = list(found)
    seen = [cell for cell in cells if found[cell].value]
    latents = {cell: int(row.value or 0) for cell, row in by_cell("oracle", "latents_on_circle", "ceiling").items()}
    sae = {
        metric: by_cell("sae", metric) for metric in ("recall_at_1", "recall_at_3", "claimed_found", "claimed", "claimed_found_on_evidence")
    }
    recipe = by_cell("recipe", "found", "ceiling")
    claims = {control: by_cell(control, "claimed") for control in CONTROLS}
    evidence_claims = {control: by_cell(control, "claimed_on_evidence") for control in CONTROLS}

    def values(table_of: dict, over: list) -> list:
        return [table_of[cell].value for cell in over]

    ks = sorted({found[cell].setting["k"] for cell in cells})
    return {
        "recoverable_cells": len(seen),
        "exists": rate(values(recipe, seen)),
        "recall_at_1": rate(values(sae["recall_at_1"], seen)),
        "recall_at_3": rate(values(sae["recall_at_3"], seen)),
        "claimed_found": rate(values(sae["claimed_found"], seen)),
        "claimed": rate(values(sae["claimed"], seen)),
        "all_cells": {
            "recall_at_1": rate(values(sae["recall_at_1"], cells)),
            "claimed_found": rate(values(sae["claimed_found"], cells)),
        },
        "claimed_found_by_offset": {
            ("offset" if offset else "no offset"): rate(
                values(sae["claimed_found"], [cell for cell in cells if bool(found[cell].setting["offset"]) == offset])
            )
            for offset in (True, False)
        },
        "claimed_found_by_latents": {
            _bin_label(low, high): rate(
                values(sae["claimed_found"], [cell for cell in cells if low <= latents[cell] and (high is None or latents[cell] <= high)])
            )
            for low, high in LATENT_BINS
        },
        "false_claims": {control: rate(values(claims[control], cells)) for control in CONTROLS},
        "false_claims_by_k": {
            str(k): {control: rate(values(claims[control], [c for c in cells if found[c].setting["k"] == k])) for control in CONTROLS}
            for k in ks
        },
        **(
            {
                "on_evidence": {
                    "claimed_found": rate(values(sae["claimed_found_on_evidence"], seen)),
                    "all_cells_claimed_found": rate(values(sae["claimed_found_on_evidence"], cells)),
                    "false_claims": {control: rate(values(evidence_claims[control], cells)) for control in CONTROLS},
                }
            }
            if sae["claimed_found_on_evidence"]  # a table from before the activation ring has none
            else {}
        ),
    }


BLIND_METRICS = (
    "top_evidence",
    "top_ring",
    "p_value",
    "claimed_on_evidence",
    "claimed",
)  # of every dictionary's blind answer, after claim_cells
SAE_METRICS = ("recall_at_1", "recall_at_3", "claimed_found_on_evidence", "claimed_found")  # of the trained SAE's, graded
CEILING_METRICS = ("found", "max_principal_angle_deg")  # of each reading chosen with the truth (METHODS)


def cell_rows(cells: list[dict], seed: int) -> list[table.Row]:
    """The results table of graded cells: per cell (setting: its index and drawn coordinates; size: m),
    the blind answer of the SAE ("sae") and of each control (any claim of a control is false),
    the SAE's graded recall, and each ceiling reading's (`METHODS`) found and plane angle; chance:
    the random dictionary's value of the same number in the same cell."""
    rows = []
    for index, cell in enumerate(cells):
        setting = {
            "cell": index,
            "period": cell["period"],
            "d": cell["d"],
            "offset": int(cell["offset"]),
            "n_sparse": cell["n_sparse"],
            "k": cell["k"],
        }
        chance = cell["blind"]["random"]
        for arm, answer in cell["blind"].items():
            for metric in BLIND_METRICS + (SAE_METRICS if arm == "sae" else ()):
                if metric in answer:
                    rows.append(
                        table.Row(
                            arm,
                            metric,
                            answer[metric],
                            chance.get(metric),
                            size=cell["m"],
                            seed=seed,
                            reader="blind ranking",
                            setting=setting,
                        )
                    )
        rows.append(
            table.Row(
                "oracle",
                "latents_on_circle",
                cell["oracle_latents"],
                size=cell["m"],
                seed=seed,
                reader="ceiling",
                unit="count",
                setting=setting,
            )
        )
        for method in METHODS:
            for metric in CEILING_METRICS:
                rows.append(
                    table.Row(
                        method,
                        metric,
                        cell[method].get(metric),
                        cell["random"].get(metric),
                        size=cell["m"],
                        seed=seed,
                        reader="ceiling",
                        unit="deg" if metric.endswith("_deg") else "",
                        setting=setting,
                    )
                )
    return rows


def cell_label(cell: dict) -> str:
    period = f"P={cell['period']}" if cell["period"] else "cont."
    return f"{period} d={cell['d']} {'off' if cell['offset'] else 'no off'} F={cell['n_sparse']} k={cell['k']} m={cell['m']}"
