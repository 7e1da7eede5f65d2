"""zoom-out: is a concept a direction or a region, layer by layer?

Two planted set-ups (toys.semantic):

1. **Intertwined manifolds** (spirals by default; moons, shells by `--set toy.manifold=`):
   a ReLU MLP classifier is trained on fresh samples (with an ambiguous arm between the
   classes). For the input and every hidden layer: the held-out balanced accuracy of a
   logistic probe (the *direction* view) and of a k-nearest-neighbours vote in the raw
   activation space (the *position* view); whether a hyperplane separates the classes
   exactly (an LP); how the layer folds the space — the number of distinct activation
   patterns (linear regions) random straight lines in input space cross (exact, per
   layer), the share of each class squashed onto faces of the orthant, the within-class
   spread; and how much the class logit's input gradient turns across the data
   (`gradient_turning`: 0 for one global direction). Control: the same network with the
   folds removed (linear activations), trained the same way.
2. **A concept that is a region**: a ball enclosed by a shell (toys.semantic.ball_in_shell).
   Detectors of "in the ball", each scored by held-out AUROC: the best linear probe, the
   best single latent of a ReLU SAE trained on the points, the best atom of a random
   dictionary of the same size (both latents are half-space detectors ReLU(w·x + b), read
   either way), and the region detector (k-nearest neighbours).

results.json: `<manifold>` (default `spirals`) with `linear_probe_accuracy_by_layer` and
`region_accuracy_by_layer` (input, then each hidden layer), `separable_by_layer`,
`line_regions`, `squashed`, `class_spread`, `gradient_turning`, `network_accuracy`,
`ambiguous_mean_probability`, `control_linear`; `ball_concept` with `linear_probe_auroc`,
`sae_latent_auroc`, `random_atom_auroc`, `region_auroc` (and the SAE's explained
variance and L0). Figures: `layers.png` (a 2-D grid of the input plane carried through
each layer, PCA of that layer), `probe_vs_region.png`, `ball_detectors.png`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.kernel import SampleGrader
from experiments.recovery import saved_dictionaries
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, pipeline
from sae.readers import detectors, folding, geometry
from toys import network_training, semantic, stored
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime

NAME = "zoom-out"
DESCRIPTION = "Concepts as regions vs directions: probes, kNN, folds and SAE latents, layer by layer"


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: semantic.SemanticConfig = semantic.SemanticConfig(ambiguous_fraction=0.1, steps=6000)
    n_samples: int = setting(6000, "samples read per layer", low=100, high=1000000)
    probe_train_fraction: float = setting(0.5, "share of samples the readers train on", low=0, low_open=True, high=1, high_open=True)
    neighbours: int = setting(15, "k of the k-NN region reader", low=1, high="int(n_samples * probe_train_fraction) // 4")
    n_lines: int = setting(50, "random lines whose activation patterns are counted", low=1, high=10000)
    grid: int = setting(41, "grid points per side in layers.png", low=3, high=401)
    ball_dims: int = setting(3, "dimensions of the ball concept's subspace", low=1, high="toy.d")
    ball_samples: int = setting(6000, "samples of the ball-in-shell concept", low=100, high=1000000)
    sae_size: int = setting(64, "SAE latents", low=1, high=65536)
    sae_l1: float = setting(0.03, "SAE L1 coefficient", low=0)
    sae_steps: int = setting(6000, "SAE training steps", low=1)
    sae_learning_rate: float = setting(1e-3, "SAE learning rate", low=0, low_open=True)

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            toy=semantic.SemanticConfig(ambiguous_fraction=0.1, steps=3000), n_samples=4000, n_lines=20, ball_samples=4000, sae_steps=3000
        )

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")


def layer_names(n_layers: int) -> list[str]:
    return ["input"] + [f"hidden {i}" for i in range(1, n_layers + 1)]


def train_classifier(config: semantic.SemanticConfig, basis, key, runtime=None):
    return network_training.select(semantic.train(semantic.Task(config, basis), key[None], runtime).state, 0)


def layer_readouts(activations, labels, train_rows, neighbours) -> dict:
    """Per layer (input first): probe and region accuracy on the two classes, exact separability
    (an LP on up to 2000 of the clean samples)."""
    clean = (labels == 0) | (labels == 1)
    out = {"linear_probe_accuracy_by_layer": [], "region_accuracy_by_layer": [], "separable_by_layer": []}
    for layer in activations:
        features, is_one = layer[clean], labels[clean] == 1
        out["linear_probe_accuracy_by_layer"].append(detectors.held_out(detectors.linear_probe(), features, is_one, train_rows[clean])[0])
        out["region_accuracy_by_layer"].append(
            detectors.held_out(detectors.region_detector(neighbours), features, is_one, train_rows[clean])[0]
        )
        out["separable_by_layer"].append(folding.linearly_separable(features[:2000], is_one[:2000]))
    return out


def random_lines(key, basis, n_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments between two uniform points of the circle of radius 1.1 in the input plane, lifted."""
    angles = np.asarray(jax.random.uniform(key, (2, n_lines), maxval=2 * np.pi))
    ends = 1.1 * np.stack([np.cos(angles), np.sin(angles)], axis=-1) @ np.asarray(basis, np.float64)
    return ends[0], ends[1]


def line_region_counts(network_config, state, basis, key, n_lines) -> np.ndarray:
    """Distinct activation patterns of layers ≤ l crossed by each random line, [n_lines, L] (exact)."""
    weights, biases = semantic.dense_layers(network_config, state)
    fold = network_config.activation == "relu"
    starts, ends = random_lines(key, basis, n_lines)
    return np.array([folding.line_regions(weights, biases, a, b, fold) for a, b in zip(starts, ends)])


def activations_of(network_config, state, x) -> list[np.ndarray]:
    """[input, h_1, …, h_L] at the rows x, as NumPy arrays."""
    return [np.asarray(a) for a in semantic.model(network_config, state).layer_activations(x)[0]]


def manifold_results(config: Config, key, runtime=None) -> tuple[dict, dict]:
    k_basis, k_train, k_sample, k_rows, k_lines = jax.random.split(key, 5)
    network = config.toy
    basis = semantic.isometry(k_basis, network.d)
    state = train_classifier(network, basis, k_train, runtime)
    sample = semantic.sample(network, basis, k_sample, config.n_samples)
    train_rows = np.asarray(jax.random.uniform(k_rows, (config.n_samples,))) < config.probe_train_fraction
    labels = np.asarray(sample.labels)
    activations = activations_of(network, state, sample.x)
    logits = np.asarray(semantic.model(network, state)(sample.x))
    probability = np.asarray(jax.nn.softmax(logits)[:, 1])
    clean = (labels == 0) | (labels == 1)
    counts = line_region_counts(network, state, basis, k_lines, config.n_lines)
    readings = {
        "network_accuracy": float(np.mean(logits[clean, :2].argmax(axis=1) == labels[clean])),
        "ambiguous_mean_probability": float(probability[labels == semantic.AMBIGUOUS].mean())
        if np.any(labels == semantic.AMBIGUOUS)
        else None,
        "layers": layer_names(network.n_layers),
        **layer_readouts(activations, labels, train_rows, config.neighbours),
        "line_regions": {
            "mean_by_layer": counts.mean(axis=0).tolist(),
            "max_by_layer": counts.max(axis=0).tolist(),
            "n_lines": config.n_lines,
        },
        "squashed": [folding.squashed_share(a, labels, [0, 1]) for a in activations[1:]],
        "class_spread": [folding.class_spread(a, labels, [0, 1]) for a in activations],
        "gradient_turning": folding.gradient_turning(semantic.logit_gradients(network, state, np.asarray(sample.x)[clean])),
    }
    linear = dataclasses.replace(network, activation="linear")
    linear_state = train_classifier(linear, basis, k_train, runtime)
    readings["control_linear"] = {
        **layer_readouts(activations_of(linear, linear_state, sample.x), labels, train_rows, config.neighbours),
        "line_regions_mean_by_layer": line_region_counts(linear, linear_state, basis, k_lines, config.n_lines).mean(axis=0).tolist(),
    }
    arrays = grid_through_layers(config, network, state, basis, activations, labels)
    return readings, arrays


def grid_through_layers(config: Config, network, state, basis, activations, labels, shown: int = 1500) -> dict:
    """A grid of the input plane and the first `shown` samples, carried through each layer and
    projected on that layer's top 2 principal components (of the grid)."""
    side = np.linspace(-1.2, 1.2, config.grid)
    plane = np.stack(np.meshgrid(side, side, indexing="ij"), axis=-1).reshape(-1, 2)
    grid_layers = activations_of(network, state, jnp.asarray(plane @ np.asarray(basis)))
    arrays = {"grid_plane": plane, "data_labels": labels[:shown]}
    for index, (grid, data) in enumerate(zip(grid_layers, activations)):
        principal = geometry.pca(grid)
        arrays[f"grid_layer{index}"] = (grid - principal.mean) @ principal.components[:2].T
        arrays[f"data_layer{index}"] = (data[:shown] - principal.mean) @ principal.components[:2].T
    return arrays


class RunKeys(NamedTuple):
    """The run's keys, derived once: `run` and `evaluation_source` both read them here."""

    manifold: jax.Array
    points: jax.Array  # the ball-in-shell samples
    rows: jax.Array  # which of them train the SAE and the probes
    sae: jax.Array
    random: jax.Array  # the random dictionary (chance)


def run_keys(config: Config) -> RunKeys:
    key_manifold, key_ball = jax.random.split(seeding.root_key(config.seed))
    return RunKeys(key_manifold, *jax.random.split(key_ball, 4))


class BallData(NamedTuple):
    x: np.ndarray  # [n, d] the ball-in-shell samples
    inside: np.ndarray  # [n] the concept: the sample lies in the ball
    train_rows: np.ndarray  # [n] the rows the SAE and the probes train on (the rest are held out)


def ball_data(config: Config, keys: RunKeys) -> BallData:
    x, labels = semantic.ball_in_shell(keys.points, config.ball_samples, config.toy.d, config.ball_dims)
    x = np.asarray(x)
    train_rows = np.asarray(jax.random.uniform(keys.rows, (len(x),))) < config.probe_train_fraction
    return BallData(x, np.asarray(labels).astype(bool), train_rows)


def sae_readings(arch: str, params, hps, source: dict) -> dict:
    """The ball SAE read on the held-out samples (`source`: "x" and the concept "inside"): its best
    latent's AUROC for the concept ("auroc"), its explained variance and mean L0; params and hps stacked
    with one dictionary. The run and `toylab evaluate` both read it here (`BALL_GRADER`)."""
    test = jnp.asarray(source["x"])
    codes = np.asarray(pipeline.encode(arch, params, hps, test))[0]
    return {
        "auroc": float(detectors.best_unit_auroc(codes, np.asarray(source["inside"])[:, None])[0][0]),
        "sae_explained_variance": pipeline.explained_variance(arch, params, hps, test)[0],
        "sae_mean_l0": float(np.mean(np.sum(codes > 0, axis=1))),
    }


BALL_GRADER = SampleGrader(("auroc", "sae_explained_variance", "sae_mean_l0"), sae_readings, reader="ball concept")


def held_out(data: BallData) -> dict:
    """The evaluation source of the ball SAE: the held-out samples and their concept."""
    return {"x": data.x[~data.train_rows], "inside": data.inside[~data.train_rows], "graders": (BALL_GRADER,)}


def evaluation_source(config: Config) -> dict:
    """The ball SAE's held-out samples and grader, rebuilt from the run's config (for `toylab evaluate`)."""
    return held_out(ball_data(config, run_keys(config)))


def ball_concept(config: Config, keys: RunKeys, runtime=None) -> tuple[dict, list]:
    """Held-out AUROC of each reader of the ball-in-shell concept, and the SAE (for the run folder)."""
    d = config.toy.d
    data = ball_data(config, keys)
    x, inside, train_rows = data
    hps = pipeline.stack([architectures.hparams(config.sae_learning_rate, config.sae_l1, 1)])
    result = pipeline.fit(
        "relu",
        stored.StoredToy(jnp.asarray(x[train_rows])),
        hps,
        keys.sae[None],
        n_latents=config.sae_size,
        steps=config.sae_steps,
        batch_size=256,
        label=f"ReLU SAE m={config.sae_size} on the ball and shell",
        runtime=runtime,
    )
    source = held_out(data)
    read = sae_readings("relu", result.params, hps, source)
    # chance as everywhere in the lab: a random dictionary encoded by TopK, k = the SAE's mean L0
    chance_k = max(1, int(round(read["sae_mean_l0"])))
    random_params = pipeline.chance_dictionaries(keys.random[None], d, config.sae_size)
    random_codes = np.asarray(pipeline.chance_codes(random_params, chance_k, jnp.asarray(source["x"])))[0]
    return {
        "linear_probe_auroc": detectors.held_out(detectors.linear_probe(), x, inside, train_rows)[1],
        "sae_latent_auroc": read["auroc"],
        "random_atom_auroc": float(detectors.best_unit_auroc(random_codes, source["inside"][:, None])[0][0]),
        "region_auroc": detectors.held_out(detectors.region_detector(config.neighbours), x, inside, train_rows)[1],
        "sae_explained_variance": read["sae_explained_variance"],
        "sae_mean_l0": read["sae_mean_l0"],
        "random_atom_k": chance_k,
        "ball_dims": config.ball_dims,
        "d": d,
        "sae_size": config.sae_size,
    }, saved_dictionaries(
        "relu",
        result.params,
        hps,
        [f"relu-ball-{config.sae_size}-seed{config.seed}"],
        [{"arm": "sae", "size": config.sae_size, "seed": config.seed, "setting": {}}],
    )


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of every layer's activations and pre-activations on the samples and the figure grid."""
    net = config.toy
    floats = (config.n_samples + config.grid**2) * (net.d + 2 * net.n_layers * net.hidden) * 2
    return int(memory.SAFETY * memory.FLOAT * floats), "toy.hidden"


def run(config: Config, runtime: Runtime | None = None) -> Result:
    keys = run_keys(config)
    manifold, arrays = manifold_results(config, keys.manifold, runtime)
    ball, saved = ball_concept(config, keys, runtime)
    return Result(
        {
            config.toy.manifold: manifold,
            "manifold": config.toy.manifold,
            "layers": manifold["layers"],
            "n_lines": config.n_lines,
            "ball_concept": ball,
        },
        arrays=arrays,
        dictionaries=saved,
        table=zoom_rows(manifold, ball, config),
    )


def zoom_rows(manifold: dict, ball: dict, config: Config) -> list[table.Row]:
    """The results table: per layer, the linear probe's and the region detector's held-out accuracy on
    the two intertwined classes (chance ½), of the classifier and of its no-fold (linear) twin; the
    ball concept read as a direction (probe, SAE latent, random atom: its chance) and as a region, by
    AUROC (chance ½ for the probe and the region)."""
    rows = []
    readers = (("linear_probe_accuracy_by_layer", "linear probe"), ("region_accuracy_by_layer", "region"))
    for (metric, reader), (arm, source) in itertools.product(
        readers, (("classifier", manifold), ("no-fold network", manifold["control_linear"]))
    ):
        for layer, accuracy in zip(manifold["layers"], source[metric]):
            rows.append(
                table.Row(
                    arm,
                    "heldout_accuracy",
                    accuracy,
                    0.5,
                    seed=config.seed,
                    reader=reader,
                    setting={"manifold": config.toy.manifold, "layer": layer},
                )
            )
    where = {"manifold": config.toy.manifold}
    for metric in ("network_accuracy", "ambiguous_mean_probability", "gradient_turning"):
        rows.append(table.Row("classifier", metric, manifold[metric], None, seed=config.seed, reader="network", setting=where))
    # per layer: linear separability and the classes' spread; per hidden layer: line regions and squashed units
    hidden = manifold["layers"][1:]
    per_layer = [
        ("classifier", "separable", manifold["layers"], manifold["separable_by_layer"]),
        ("classifier", "class_spread", manifold["layers"], [float(np.mean(list(s.values()))) for s in manifold["class_spread"]]),
        ("classifier", "line_regions", hidden, manifold["line_regions"]["mean_by_layer"]),
        ("no-fold network", "line_regions", hidden, manifold["control_linear"]["line_regions_mean_by_layer"]),
        ("classifier", "units_at_zero", hidden, [float(np.mean([v["units_at_zero"] for v in s.values()])) for s in manifold["squashed"]]),
    ]
    for arm, metric, layers, values in per_layer:
        for layer, value in zip(layers, values):
            rows.append(table.Row(arm, metric, value, None, seed=config.seed, reader="layer geometry", setting={**where, "layer": layer}))
    for metric in ("sae_explained_variance", "sae_mean_l0"):
        rows.append(table.Row("sae", metric, ball[metric], None, size=config.sae_size, seed=config.seed, reader="ball concept"))
    for arm, metric, chance in (
        ("linear probe", "linear_probe_auroc", 0.5),
        ("sae", "sae_latent_auroc", ball["random_atom_auroc"]),
        ("random", "random_atom_auroc", ball["random_atom_auroc"]),
        ("region", "region_auroc", 0.5),
    ):
        rows.append(
            table.Row(
                arm,
                "auroc",
                ball[metric],
                chance,
                size=config.sae_size if arm in ("sae", "random") else None,
                seed=config.seed,
                reader="ball concept",
            )
        )
    return rows


def headline(results: dict) -> str:
    """One number for `toylab runs`: the ball concept read as a region vs a direction (AUROC)."""
    rows = table.select(table.read(results), reader="ball concept", metric="auroc")
    region, probe = table.mean(rows, arm="region"), table.mean(rows, arm="linear probe")
    return "—" if region is None or probe is None else f"ball: region {region:.2f}, probe {probe:.2f}"


class BallFacts(NamedTuple):
    ball_dims: int
    d: int
    sae_size: int


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    manifold: str
    layers: tuple[str, ...]  # "input", then each hidden layer
    n_lines: int  # random lines the line regions are counted on
    ball_concept: BallFacts


def summary(results: dict) -> str:
    """From the results table (the manifold, its layers and the ball's shape from the run's facts)."""
    run = facts.read(results, Facts)
    rows = table.read(results)
    network = {row.metric: row.value for row in table.select(rows, reader="network")}
    geometry = table.select(rows, reader="layer geometry")

    def at(arm: str, metric: str, layer: str) -> float | None:
        return table.mean(geometry, {"layer": layer}, arm=arm, metric=metric)

    def accuracy(arm: str, reader: str, layer: str) -> float:
        return table.mean(rows, {"layer": layer}, arm=arm, reader=reader, metric="heldout_accuracy") or 0.0

    ambiguous = network["ambiguous_mean_probability"]
    lines = [
        f"{run.manifold}: classifier accuracy {network['network_accuracy']:.4f} on the two classes"
        + (f"; mean P(class 1) on the ambiguous arm {ambiguous:.3f}" if ambiguous is not None else ""),
        f"{'layer':<10}{'probe':>8}{'region':>8}{'separable':>11}{'line regions':>14}{'probe (no folds)':>18}",
    ]
    for i, name in enumerate(run.layers):
        regions = 1.0 if i == 0 else at("classifier", "line_regions", name) or 0.0
        lines.append(
            f"{name:<10}{accuracy('classifier', 'linear probe', name):>8.3f}"
            f"{accuracy('classifier', 'region', name):>8.3f}{str(bool(at('classifier', 'separable', name))):>11}"
            f"{regions:>14.1f}{accuracy('no-fold network', 'linear probe', name):>18.3f}"
        )
    no_folds = at("no-fold network", "line_regions", run.layers[-1]) or 0.0
    lines.append(
        f"(line regions: mean distinct activation patterns of layers ≤ l along {run.n_lines} random lines; without folds {no_folds:.0f})"
    )
    lines.append(f"gradient turning (0 = one direction everywhere): {network['gradient_turning']:.3f}")
    spread = ", ".join(f"{at('classifier', 'class_spread', name):.2f}" for name in run.layers)
    lines.append(f"within-class spread / total, by layer: {spread}")
    faces = ", ".join(f"{at('classifier', 'units_at_zero', name):.2f}" for name in run.layers[1:])
    lines.append(f"share of units at 0 (squashed onto a face), by hidden layer: {faces}")
    ball = run.ball_concept
    lines.append(f"ball-in-shell concept ({ball.ball_dims}-dim ball in R^{ball.d}), held-out AUROC:")
    detectors_read = table.select(rows, reader="ball concept")
    for name, arm in (
        ("linear_probe_auroc", "linear probe"),
        ("sae_latent_auroc", "sae"),
        ("random_atom_auroc", "random"),
        ("region_auroc", "region"),
    ):
        lines.append(f"  {name:<20}{table.mean(detectors_read, arm=arm, metric='auroc'):.3f}")
    sae = {row.metric: row.value for row in table.select(detectors_read, arm="sae")}
    lines.append(f"  (SAE: explained variance {sae['sae_explained_variance']:.3f}, mean L0 {sae['sae_mean_l0']:.1f})")
    return "\n".join(lines)


def plot(results: dict, arrays: dict, folder) -> list:
    """A grid of the input plane and the data through each layer; the class read by direction and by
    position per layer, folded and not (from the results table); the ball concept's detectors."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    names = run.layers
    paths = []
    figure, axes = panels.panels(len(names), width=3.2, height=3.4)
    side = int(np.sqrt(len(arrays["grid_plane"])))
    colours = np.array(["C0", "C3", "C2"])
    labels = arrays["data_labels"]
    for index, (ax, name) in enumerate(zip(axes, names)):
        panels.grid_lines(ax, arrays[f"grid_layer{index}"].reshape(side, side, 2))
        data = arrays[f"data_layer{index}"]
        panels.scatter_in_plane(ax, data[labels >= 0], colours[labels[labels >= 0]], name, sizes=2, axes_shown=False)
        panels.scatter_in_plane(ax, data[labels < 0], "0.3", name, sizes=2, axes_shown=False)
        ax.set_aspect("auto")
    entries = [("class 0", colours[0], "marker"), ("class 1", colours[1], "marker")]
    if np.any(labels == 2):
        entries.append(("neither (background)", colours[2], "marker"))
    panels.key(figure, [*entries, ("ambiguous arm (target ½, ½)", "0.3", "marker"), ("grid of the input plane", "0.8", "line")])
    title = f"{run.manifold}: a grid of the input plane and the data through each layer (top 2 PCs)"
    paths.append(panels.finish(figure, axes, title, folder / "layers.png", legend=False))

    figure, axes = panels.panels(1, width=6.2, height=4.0)
    series = [
        ("linear probe (direction)", {"arm": "classifier", "reader": "linear probe"}, {"fmt": "o-", "color": "C0"}),
        ("k-NN region (position)", {"arm": "classifier", "reader": "region"}, {"fmt": "s-", "color": "C1"}),
        (
            "linear probe, no-fold network",
            {"arm": "no-fold network", "reader": "linear probe"},
            {"fmt": "o--", "color": "C0", "alpha": 0.5},
        ),
        ("k-NN region, no-fold network", {"arm": "no-fold network", "reader": "region"}, {"fmt": "s--", "color": "C1", "alpha": 0.5}),
    ]
    panels.series_by_setting(
        axes[0], rows, "heldout_accuracy", "layer", series, f"{run.manifold}: reading the class by direction vs by position"
    )
    axes[0].axhline(0.5, color="0.6", lw=0.8, ls=":", label="chance")
    paths.append(panels.finish(figure, axes, "", folder / "probe_vs_region.png", ylabel="held-out balanced accuracy"))

    ball = run.ball_concept
    figure, axes = panels.panels(1, width=6.4, height=3.9)
    m = ball.sae_size
    names_of = {
        "linear probe": "linear\nprobe",
        "sae": f"best SAE\nlatent of {m}",
        "random": f"best random\natom of {m}",
        "region": "k-NN\nregion",
    }
    panels.bars_by_arm(
        axes[0],
        table.select(rows, reader="ball concept"),
        "auroc",
        names_of,
        f"A {ball.ball_dims}-dim ball inside a shell, in R^{ball.d}: detectors",
        ("C0", "C2", "0.6", "C1"),
    )
    axes[0].axhline(0.5, color="0.3", lw=0.8, ls=":", label="chance")
    axes[0].set_ylim(0, 1.08)
    ylabel = "held-out AUROC for 'inside the ball'\n(latents and atoms read either way)"
    paths.append(panels.finish(figure, axes, "", folder / "ball_detectors.png", ylabel=ylabel))
    return paths


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
