"""Experiment `circles-grid`: does the circle recipe generalise? Random cells, oracle, chance and nulls.

Each cell draws, with the run's seed, a circle (period P uniform in `periods`, or
continuous with probability `continuous_share`), a dimension d, an offset (‖c‖ =
`offset`·r, or none, with probability ½ each), a number of sparse features, a k from `ks`
and a dictionary size m (log-uniform in `sizes`). A TopK SAE is trained on the toy
(toys.manifolds: the circle plus the sparse features), and a second, in the same vmapped
call, on the **null toy**: the same sparse features and the same labels, with the circle's
vectors set to zero.

**The method, blind** (`blind_answer`): on each dictionary, the manifold finder's candidate
groups, ranked by circle evidence and the top one tested against null dictionaries
(`sae.manifold_ranking`); it reads codes and decoder only. **The graders**
(`sae.manifold_grading`), on the oracle-recoverable cells: recall@1 and recall@3 (the
planted circle is the blind top candidate, or among the top three), true claims; on all
cells, false claims of the blind top candidate on the null twin, on a random dictionary,
against a random 2-plane in the decoder's span and against shuffled labels
(`blind_summary`).

**The ceiling and the older readings**, each scored against the planted circle with the
truth choosing among candidates (sae.manifold_grading.score_circle):
- `recipe` (reported as *exists*): some finder candidate is found, the one nearest the
  planted plane that covers most of its samples — the truth picks it;
- `oracle`: the group of the latents whose decoder rows hold ≥ ½ of their energy in the
  circle's span: what the SAE actually learned;
- `random`: the finder on a random ±1/√d dictionary of the same size, encoded by TopK with
  the cell's k (chance);
- `null`: the finder on the SAE trained on the null toy, against the would-be circle's
  plane and the (meaningless) labels;
- `shuffled`: the recipe's groups against the true labels permuted among the circle's
  samples (the geometry is real; the order is not).

A method *finds* the circle when its best group's top-2 plane is within 10° of the
planted plane and its per-value centroids are in cyclic order (measure (a),
`sae.geometry.cyclic_order`). Read: `recipe_recovery_given_oracle` (does the pipeline see
what the SAE has?), the false-positive rates of the controls, where the oracle fails (the
SAE did not represent the circle), and how the SAE held the circle (tiling or span) by k.
Beside them, the shape reader (`sae.topology`) is checked on planted circles, spheres,
tori, helices and structureless clouds (`shape_confusion`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from experiments import memory, seeding
from experiments.recovery import seed_keys
from experiments.study import Study
from sae import (architectures, geometry, manifold_finder, manifold_grading, manifold_ranking, metrics, pipeline,
                 progress, topology)
from toys import manifolds, superposition
from toys.validation import ConfigError, check_each, check_range

NAME = "circles-grid"
DESCRIPTION = ("randomly drawn circle cells (period, d, offset, sparse features, k, m): the blind ranking's recall "
               "and false claims beside the ceiling, chance and nulls")
METHODS = ("recipe", "oracle", "random", "null", "shuffled")
SHAPE_KINDS = ("circle", "sphere", "torus", "helix", "gaussian null", "sparse null")
# what each planted cloud should read as (a helix is an arc: b₁ = 0)
EXPECTED_SHAPE = {"circle": "circle", "sphere": "sphere", "torus": "torus", "helix": "segment or blob",
                  "gaussian null": "segment or blob", "sparse null": "segment or blob"}


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    cells: int = 96  # cells drawn at random from the ranges below
    periods: tuple[int, int] = (5, 24)  # P drawn uniformly from this closed range low,high (3 ≤ low ≤ high)
    continuous_share: float = 0.2  # probability that a cell's circle is continuous (period 0)
    dims: tuple[int, int] = (32, 128)  # d drawn uniformly from this closed range low,high (8 ≤ low ≤ high)
    offset: float = 2.0  # ‖c‖ / r when a cell has an offset (half of them do)
    sparse_features: tuple[int, int] = (100, 500)  # number of sparse features, uniform in low,high (1 ≤ low ≤ high)
    ks: tuple[int, ...] = (1, 2, 4, 8)  # k drawn uniformly from these
    sizes: tuple[int, int] = (256, 2048)  # m drawn log-uniformly from low,high (8 ≤ low ≤ high)
    radius: float = 1.0  # r of the circle
    circle_probability: float = 0.2  # P(a sample carries the circle)
    sparse_mean_l0: float = 4.0  # the sparse features' expected L0
    learning_rate: float = 3e-3
    steps: int = 6000
    batch_size: int = 512
    n_geometry: int = 16_384  # samples the finder and the scores read
    shape_clouds: int = 40  # planted clouds per kind in the shape reader's confusion table
    shape_points: int = 600  # points per planted cloud

    @classmethod
    def quick(cls) -> "Config":
        return cls(cells=24, steps=2000, batch_size=256, n_geometry=6144, shape_clouds=20)

    def validate(self) -> None:
        check_range("seed", self.seed, low=0, high=seeding.SEED_MAX)
        check_range("cells", self.cells, low=1)
        _check_interval("periods", self.periods, low=3)
        check_range("continuous_share", self.continuous_share, low=0, high=1)
        _check_interval("dims", self.dims, low=8)
        check_range("offset", self.offset, low=0)
        _check_interval("sparse_features", self.sparse_features, low=1)
        check_each("ks", self.ks, low=1, high=self.sizes[0] if len(self.sizes) == 2 else None)
        _check_interval("sizes", self.sizes, low=8)
        check_range("radius", self.radius, low=0, low_open=True)
        check_range("circle_probability", self.circle_probability, low=0, low_open=True, high=1)
        check_range("sparse_mean_l0", self.sparse_mean_l0, low=0, low_open=True, high=self.sparse_features[0])
        check_range("learning_rate", self.learning_rate, low=0, low_open=True)
        check_range("steps", self.steps, low=1)
        check_range("batch_size", self.batch_size, low=1)
        check_range("n_geometry", self.n_geometry, low=geometry.MIN_ORDERING_SAMPLES)
        check_range("shape_clouds", self.shape_clouds, low=0)
        check_range("shape_points", self.shape_points, low=topology.MIN_POINTS)


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


def train_twins(config: Config, cell: dict, toy, key_train: jax.Array):
    """The cell's TopK SAE and its null twin's, in one vmapped call: (params, hparams)."""
    twins = jax.tree.map(lambda a, b: jnp.stack([a, b]), toy, null_toy(toy))
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, cell["k"])] * 2)
    result = pipeline.fit("topk", twins, hps, jax.random.split(key_train, 2), n_latents=cell["m"], steps=config.steps,
                          batch_size=config.batch_size, per_run_data=True,
                          label=f"topk P={cell['period']} d={cell['d']} k={cell['k']} m={cell['m']}")
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


def score_cell(config: Config, cell: dict, key: jax.Array) -> dict:
    """Train the cell's SAE and its null twin (one vmapped call), run the blind method on every
    dictionary, then grade: the blind ranking, its false claims, and the oracle-selected ceiling."""
    key_toy, key_train, key_random, key_sample, key_shuffle = jax.random.split(key, 5)
    toy = manifolds.build(cell_toy_config(config, cell), key_toy)
    params, hps = train_twins(config, cell, toy, key_train)
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


def null_cell_top_evidence(config: Config, cell: dict, key: jax.Array) -> dict:
    """The null family behind the claim threshold: a TopK SAE trained on the cell's toy with the
    circle zeroed, and a random dictionary of the cell's size; each one's top circle evidence
    under the blind method (no claim threshold needed to compute it)."""
    key_toy, key_train, key_random, key_sample = jax.random.split(key, 4)
    toy = null_toy(manifolds.build(cell_toy_config(config, cell), key_toy))
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, cell["k"])])
    result = pipeline.fit("topk", toy, hps, key_train[None], n_latents=cell["m"], steps=config.steps,
                          batch_size=config.batch_size, label=f"null topk d={cell['d']} k={cell['k']} m={cell['m']}")
    x = manifolds.sample(toy, key_sample, config.n_geometry).x
    codes = np.asarray(pipeline.encode("topk", result.params, hps, x[None]))[0]
    trained = blind_answer(codes, np.asarray(result.params.W_dec[0]), config.seed, null_top=())[2].top_evidence
    random_codes, random_decoder = random_dictionary_codes(cell, key_random, x)
    chance = blind_answer(random_codes, random_decoder, config.seed, null_top=())[2].top_evidence
    return {**cell, "trained_top_evidence": trained, "random_top_evidence": chance}


def _rate(cells, method) -> dict:
    hits = sum(bool(cell[method]["found"]) for cell in cells)
    return {"rate": hits / len(cells) if cells else None, "count": hits, "of": len(cells)}


def shape_confusion(config: Config, key: jax.Array) -> dict:
    """{planted kind: {read shape: count}} over `shape_clouds` clouds per kind (SHAPE_KINDS).

    Planted clouds come from toys.manifolds (each kind at its default settings, continuous
    phase, in 16 dimensions, Gaussian noise σ = 0.05 r); the nulls are a Gaussian blob
    with random axis lengths in 4 dimensions and a sum of sparse superposed features (20
    features, L0 = 2).
    """
    table = {kind: {} for kind in SHAPE_KINDS}
    d = 16
    with progress.task(f"shape reader: {len(SHAPE_KINDS)} kinds × {config.shape_clouds} clouds"):
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
    return table


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the largest cell's SAE and its null twin, or of its geometry sample's codes."""
    training = memory.sae_training_bytes(runs=2, d=config.dims[1], m=config.sizes[1], batch=config.batch_size,
                                         n_features=config.sparse_features[1],
                                         fields={"n_features": "sparse_features", "m": "sizes", "batch": "batch_size",
                                                 "runs": "sizes"})
    geometry_bytes = int(memory.SAFETY * memory.FLOAT * 3 * config.n_geometry * (2 * config.sizes[1] + 2 * config.dims[1]))
    return (geometry_bytes, "n_geometry") if geometry_bytes > training[0] else training


CONTROLS = ("null", "random", "random_plane", "shuffled")


def blind_summary(cells: list[dict]) -> dict:
    """The blind method graded: on the oracle-recoverable cells (the oracle group is found), the
    ceiling `exists` (some candidate is found, chosen with the truth) beside recall@1, recall@3 and
    true claims; over all cells, each control's false claims (`sae.manifold_grading`)."""
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


def run(config: Config) -> dict:
    key_cells, key_shapes = jax.random.split(seeding.root_key(config.seed))
    cells = []
    for index, cell in enumerate(draw_cells(config)):
        cells.append(score_cell(config, cell, seed_keys(key_cells, index, [0])[0]))
    seen = [c for c in cells if c["oracle"]["found"]]
    both = sum(bool(c["recipe"]["found"]) for c in seen)
    modes = {}
    for k in sorted({c["k"] for c in cells}):
        at_k = [c for c in cells if c["k"] == k and c["oracle"]["found"]]
        modes[str(k)] = {mode: sum(c["oracle"]["mode"] == mode for c in at_k) for mode in ("tiling", "span")}
    return {
        "cells": cells,
        "blind": blind_summary(cells),
        "claim_alpha": manifold_ranking.CLAIM_ALPHA,
        "null_dictionaries": len(manifold_ranking.NULL_TOP_EVIDENCE),
        # the ceiling: some candidate matches, chosen with the truth (sae.geometry.match_circle)
        "recipe_recovery_given_oracle": both / len(seen) if seen else None,
        "recipe_recovery_given_oracle_count": {"count": both, "of": len(seen)},
        "oracle_rate": _rate(cells, "oracle"),
        "recipe_rate": _rate(cells, "recipe"),
        "null_false_positive_rate": _rate(cells, "null")["rate"],
        "random_false_positive_rate": _rate(cells, "random")["rate"],
        "shuffled_false_positive_rate": _rate(cells, "shuffled")["rate"],
        "false_positives": {method: _rate(cells, method) for method in ("null", "random", "shuffled")},
        # the shape reader alone, truth-free: controls whose best group reads as a circle
        "shape_circle_claims": {method: {"count": sum(c[method]["shape"] == "circle" for c in cells), "of": len(cells)}
                                for method in ("null", "random")},
        # chance that P shuffled values land in cyclic order: 2P / P! = 2 / (P − 1)! per cell
        "shuffled_chance": float(np.mean([2.0 / float(np.prod(np.arange(1, (c["period"] or 12)))) for c in cells])),
        "modes_by_k": modes,
        "shape_confusion": shape_confusion(config, key_shapes) if config.shape_clouds else {},
        "found_angle_deg": manifold_grading.FOUND_ANGLE_DEG,
    }


def _count(entry: dict) -> str:
    return f"{entry['count']}/{entry['of']}"


def headline(results: dict) -> str:
    blind = results["blind"]
    fc = blind["false_claims"]
    return (f"blind recall@1 {_count(blind['recall_at_1'])}, @3 {_count(blind['recall_at_3'])} "
            f"(exists {_count(blind['exists'])}); false claims null {_count(fc['null'])}, random {_count(fc['random'])}")


def blind_lines(blind: dict) -> list[str]:
    fc = blind["false_claims"]
    return [
        f"blind method on the {blind['recoverable_cells']} oracle-recoverable cells: exists (ceiling, chosen with the truth) "
        f"{_count(blind['exists'])}; recall@1 {_count(blind['recall_at_1'])}; recall@3 {_count(blind['recall_at_3'])}; "
        f"top claimed {_count(blind['claimed'])}, claimed and found {_count(blind['claimed_found'])}",
        "blind false claims (top candidate claimed; for random plane and shuffled, claimed and found against the "
        "wrong truth): " + ", ".join(f"{control} {_count(fc[control])}" for control in CONTROLS),
    ]


def _cell_label(cell: dict) -> str:
    period = f"P={cell['period']}" if cell["period"] else "cont."
    return f"{period} d={cell['d']} {'off' if cell['offset'] else 'no off'} F={cell['n_sparse']} k={cell['k']} m={cell['m']}"


def _sorted_cells(results):
    return sorted(results["cells"], key=lambda c: (c["k"], c["period"], c["d"]))


def plot(results: dict, arrays: dict, folder) -> list:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from experiments.runfolder import save_figure

    paths = []
    cells = _sorted_cells(results)
    found = np.array([[1.0 if c[m]["found"] else 0.0 for m in METHODS] for c in cells])
    figure, ax = plt.subplots(figsize=(7.5, 0.6 + 0.26 * len(cells)))
    ax.imshow(found, cmap=ListedColormap(["#eeeeee", "#4c9a5a"]), aspect="auto", vmin=0, vmax=1)
    for i, cell in enumerate(cells):
        for j, method in enumerate(METHODS):
            ax.text(j, i, f"{cell[method]['max_principal_angle_deg']:.0f}°", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(METHODS)), METHODS)
    ax.set_yticks(range(len(cells)), [_cell_label(c) for c in cells], fontsize=6)
    ax.xaxis.tick_top()
    ax.set_title(f"Circle found (green: within {results['found_angle_deg']:.0f}° of the plane and in cyclic order); "
                 "text: largest principal angle", fontsize=8)
    figure.tight_layout()
    paths.append(save_figure(figure, folder / "recovery_map.png"))

    figure, ax = plt.subplots(figsize=(7.6, 3.6))
    blind = results["blind"]
    rates = [("exists\n(ceiling)", blind["exists"]), ("recall@3", blind["recall_at_3"]),
             ("recall@1", blind["recall_at_1"]), ("claimed\nand found", blind["claimed_found"])] + \
            [(f"{control.replace('_', ' ')}\n(false claims)", blind["false_claims"][control]) for control in CONTROLS]
    values = [r["count"] / r["of"] if r["of"] else 0.0 for _, r in rates]
    colours = ["#9bbf9f"] + ["#4c9a5a"] * 3 + ["#b5533c"] * len(CONTROLS)
    bars = ax.bar(range(len(rates)), values, color=colours)
    for bar, (_, r) in zip(bars, rates):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, f"{r['count']}/{r['of']}", ha="center",
                fontsize=8)
    ax.axhline(results["claim_alpha"], color="0.5", lw=1, ls="--")
    ax.set_xticks(range(len(rates)), [name for name, _ in rates], fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share of cells")
    ax.set_title("The blind ranking beside the oracle-selected ceiling (green: of the oracle-recoverable cells),\n"
                 f"and its false claims on controls (red: of all cells; dashed: α = {results['claim_alpha']})",
                 fontsize=9)
    figure.tight_layout()
    paths.append(save_figure(figure, folder / "false_positives.png"))

    confusion = results.get("shape_confusion") or {}
    if confusion:
        kinds = list(confusion)
        reads = list(topology.SHAPES)
        matrix = np.array([[confusion[kind].get(read, 0) for read in reads] for kind in kinds])
        figure, ax = plt.subplots(figsize=(7.2, 3.6))
        ax.imshow(matrix, cmap="Greens", aspect="auto")
        for i in range(len(kinds)):
            for j in range(len(reads)):
                dark = matrix[i, j] > matrix.max() / 2
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8, color="white" if dark else "black")
        ax.set_xticks(range(len(reads)), reads, fontsize=8, rotation=20)
        ax.set_yticks(range(len(kinds)), [f"{k} (expect {EXPECTED_SHAPE[k]})" for k in kinds], fontsize=8)
        ax.set_xlabel("shape read by persistent homology")
        ax.set_title("Shape reader on planted and structureless clouds", fontsize=9)
        figure.tight_layout()
        paths.append(save_figure(figure, folder / "shape_confusion.png"))
    return paths


def _cell_row(cell: dict) -> str:
    parts = []
    for method in METHODS:
        score = cell[method]
        mark = "FOUND" if score["found"] else "-"
        cyclic = {True: "in order", False: "out of order", None: "n/a"}[score["cyclic_order"]]
        parts.append(f"{mark:>5} {score['max_principal_angle_deg']:>5.1f}° {cyclic:<12} {score['shape'][:7]:<7} "
                     f"{(score['mode'] or '-')[:6]:<6}")
    return f"{_cell_label(cell):<42}" + " | ".join(parts)


def summary(results: dict) -> str:
    header = f"{'cell':<42}" + " | ".join(f"{method:^36}" for method in METHODS)
    lines = [header, "-" * len(header)] + [_cell_row(cell) for cell in _sorted_cells(results)]
    count = results["recipe_recovery_given_oracle_count"]
    fp = results["false_positives"]
    rate = results["recipe_recovery_given_oracle"]
    lines += ["", *blind_lines(results["blind"])]
    lines += [
        "",
        f"exists (the ceiling): recipe_recovery_given_oracle = {count['count']}/{count['of']}"
        + (f" = {rate:.3f}" if rate is not None else " (the oracle found no circle)"),
        f"oracle finds the circle in {results['oracle_rate']['count']}/{results['oracle_rate']['of']} cells; "
        f"the recipe in {results['recipe_rate']['count']}/{results['recipe_rate']['of']}",
        f"false positives: null {fp['null']['count']}/{fp['null']['of']}, random {fp['random']['count']}/{fp['random']['of']}, "
        f"shuffled labels {fp['shuffled']['count']}/{fp['shuffled']['of']} "
        f"(chance of cyclic order for shuffled values, mean over cells: {results['shuffled_chance']:.2g})",
        "best groups of the controls that read as a circle by shape alone: "
        + ", ".join(f"{m} {v['count']}/{v['of']}" for m, v in results["shape_circle_claims"].items()),
        "how the SAE holds the circles the oracle finds, by k: "
        + ", ".join(f"k={k}: {m['tiling']} tiling / {m['span']} span" for k, m in results["modes_by_k"].items()),
    ]
    confusion = results.get("shape_confusion") or {}
    if confusion:
        lines += ["", "shape reader (rows: planted; columns: read):",
                  f"{'':<16}" + "".join(f"{read[:15]:>16}" for read in topology.SHAPES)]
        for kind, row in confusion.items():
            lines.append(f"{kind:<16}" + "".join(f"{row.get(read, 0):>16}" for read in topology.SHAPES))
    lines.append(f"(found: the best group's top-2 PCA plane within {results['found_angle_deg']:.0f}° of the planted plane and "
                 "its per-value centroids in cyclic order; cells drawn at random from the configured ranges)")
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
