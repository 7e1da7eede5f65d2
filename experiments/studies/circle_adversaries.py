"""Experiment `circle-adversaries`: no-circle structures a referee would try, through the blind circle claim.

Each kind of `toys.adversaries` (a split triangle, a helix, an arc under half a turn, a
correlated pair, a dense co-firing cluster, a sphere, a decoupled circle) is planted beside
sparse superposed features, `seeds` toys per kind; TopK SAEs train on each at every k of
`ks` (one vmapped call per kind). The blind method (`experiments.circle_cells.blind_answer`:
finder → ranking) reads each dictionary and its top candidate is tested against the stored
null for its k (`sae.readers.manifold_ranking.stored_null`; the run's training budget and
sample count must match a stored stratum). None of these kinds holds a circle, so every
claim is false: the claim rate per kind (and per k) is reported with its exact 95% interval
beside the level α. The counterpart that should succeed: a planted circle (`toys.manifolds`,
the same P, offset and sparse features) trained and read the same way, which a sound claim
takes at a rate far above α (what it reaches: docs/studies/circle-adversaries.md).
"""

from __future__ import annotations

import dataclasses

import jax

from experiments import circle_cells
from experiments.recovery import seed_keys
from experiments.runner import facts, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, pipeline
from sae.readers import manifold_grading, manifold_ranking, wall
from toys import adversaries, manifolds
from toys.engine.config import ConfigError, check_each, check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "circle-adversaries"
DESCRIPTION = "no-circle structures a referee would try (triangle, helix, arc, sphere, ...): the blind claim's false claims"
POSITIVE = "circle"  # the counterpart that must be claimed


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    seeds: int = setting(10, "toys per kind, each trained at every k", low=1)
    kinds: tuple[str, ...] = setting(adversaries.KINDS, "the adversaries", choices=adversaries.KINDS, distinct=True)
    ks: tuple[int, ...] = setting((1, 2, 4, 8), "TopK k values (each needs a stored null)", low=1, high="m")
    structure: adversaries.AdversaryConfig = setting(
        adversaries.AdversaryConfig(), "the adversaries' shared settings (kind is set per kind)"
    )
    m: int = setting(512, "SAE latents", low=8)
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    steps: int = setting(2000, "training steps (with batch_size and n_geometry: a stored null stratum)", low=1)
    batch_size: int = setting(256, low=1)
    n_geometry: int = setting(6144, "samples the blind method reads", low=100)

    @classmethod
    def quick(cls) -> "Config":
        return cls(seeds=3)

    def validate(self) -> None:
        check_fields(self)
        self.structure.validate("structure.")
        default_kind = adversaries.AdversaryConfig().kind
        if self.structure.kind != default_kind:
            raise ConfigError(
                f"structure.kind: got {self.structure.kind!r}, allowed only the default {default_kind!r} "
                "(each kind of `kinds` is run; choose them there)"
            )
        check_each("ks", self.ks, low=1, high=self.m)
        stratum = manifold_ranking.Stratum(self.steps, self.batch_size, self.n_geometry)
        missing = [k for k in self.ks if manifold_ranking.stored_null(k, stratum) is None]
        if missing:
            stored = ", ".join(
                f"steps={s['stratum']['steps']} batch_size={s['stratum']['batch_size']} n_geometry={s['stratum']['n_geometry']}"
                for s in manifold_ranking.stored_strata()
            )
            raise ConfigError(
                f"steps, batch_size, n_geometry: got {self.steps}, {self.batch_size}, {self.n_geometry}"
                f" with k {missing}, allowed a stored null stratum ({stored or 'none stored'}; "
                "toylab run circle-null draws another)"
            )


def _positive_toy(config: Config, key: jax.Array) -> manifolds.ManifoldToy:
    s = config.structure
    spec = manifolds.ManifoldSpec("circle", values=s.values, radius=s.radius, offset=s.offset * s.radius, probability=s.probability)
    return manifolds.build(manifolds.ManifoldConfig(s.d, (spec,), s.n_sparse_features, s.sparse_mean_l0), key)


def _kind_toys(config: Config, kind: str, key: jax.Array) -> list:
    keys = seed_keys(key, 0, list(range(config.seeds)))
    if kind == POSITIVE:
        return [_positive_toy(config, k) for k in keys]
    structure = dataclasses.replace(config.structure, kind=kind)
    return [adversaries.build(structure, k) for k in keys]


def train_and_observe(config: Config, toys: list, key_train: jax.Array, key_sample: jax.Array, label: str, runtime=None):
    """A TopK SAE per toy and k of `config.ks` (one vmapped call) and each dictionary's observation of its
    toy's sample (the method sees that only): (runs [(toy index, k)], observations in the same order)."""
    runs = [(seed, k) for seed in range(len(toys)) for k in config.ks]
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, k) for _, k in runs])
    result = pipeline.fit(
        "topk",
        pipeline.stack([toys[seed] for seed, _ in runs]),
        hps,
        jax.random.split(key_train, len(runs)),
        n_latents=config.m,
        steps=config.steps,
        batch_size=config.batch_size,
        per_run_data=True,
        label=f"topk on {label} × {len(toys)} k={','.join(map(str, config.ks))}",
        runtime=runtime,
    )
    samples = [toy.sample(jax.random.fold_in(key_sample, seed), config.n_geometry) for seed, toy in enumerate(toys)]
    # each toy's sample, once per k; the method sees each dictionary's observation only
    return runs, wall.observe_grid([samples[seed] for seed, _ in runs], "topk", result.params, hps)


def score_kind(config: Config, kind: str, key: jax.Array, runtime=None) -> dict:
    """Every toy of one kind, trained at every k (one vmapped call), read blind and tested against the
    stored null of its k: {"kind", "dictionaries": [{seed, k, top_evidence, p_value, claimed}]}."""
    key_toys, key_train, key_sample = jax.random.split(key, 3)
    toys = _kind_toys(config, kind, key_toys)
    runs, observations = train_and_observe(config, toys, key_train, key_sample, kind, runtime)
    stratum = manifold_ranking.Stratum(config.steps, config.batch_size, config.n_geometry)
    nulls = {k: manifold_ranking.stored_null(k, stratum) for k in config.ks}
    entries = []
    for index, (seed, k) in enumerate(runs):
        null_top = nulls[k]
        ranked = circle_cells.blind_answer(observations[index], config, null_top, f"stored null, k={k}").ranked
        top = ranked.evidence[ranked.order[0]] if len(ranked.order) else None
        entries.append(
            {
                "seed": seed,
                "k": k,
                "top_evidence": ranked.top_evidence,
                "p_value": ranked.p_value,
                "top_ring": ranked.top_ring,
                # the claim before its second condition (a ring in the activations): p ≤ α alone
                "claimed_on_evidence": bool(len(ranked.order) and ranked.p_value <= manifold_ranking.CLAIM_ALPHA),
                "claimed": ranked.claimed,
                "null_size": len(null_top),
                "top_readings": top._asdict() if top is not None else None,
            }
        )
    return {"kind": kind, "dictionaries": entries}


def run(config: Config, runtime: Runtime | None = None) -> Result:
    root = seeding.root_key(config.seed)
    kinds = [*config.kinds, POSITIVE]
    scored = []
    for index, kind in enumerate(kinds):
        or_default(runtime).progress.note(f"kind {index + 1}/{len(kinds)}: {kind}")
        scored.append(score_kind(config, kind, jax.random.fold_in(root, index), runtime))
    rates = {}
    for entry in scored:
        claims = [d["claimed"] for d in entry["dictionaries"]]
        by_k = {str(k): manifold_grading.rate([d["claimed"] for d in entry["dictionaries"] if d["k"] == k]) for k in config.ks}
        rates[entry["kind"]] = {
            "claims": manifold_grading.rate(claims),
            "by_k": by_k,
            "top_evidence_max": max(d["top_evidence"] for d in entry["dictionaries"]),
        }
    adversarial = [d["claimed"] for entry in scored if entry["kind"] != POSITIVE for d in entry["dictionaries"]]
    stratum = manifold_ranking.Stratum(config.steps, config.batch_size, config.n_geometry)
    return Result(
        {
            "kinds": scored,
            "rates": rates,
            "all_adversaries": manifold_grading.rate(adversarial),
            **facts.write(circle_cells.ClaimFacts(manifold_ranking.CLAIM_ALPHA, stratum)),
        },
        table=[
            table.Row(
                entry["kind"],
                metric,
                dictionary[metric],
                None,
                size=config.m,
                seed=config.seed,
                reader="blind ranking",
                setting={"toy": dictionary["seed"], "k": dictionary["k"]},
            )
            for entry in scored
            for dictionary in entry["dictionaries"]
            for metric in ("top_evidence", "top_ring", "p_value", "claimed_on_evidence", "claimed")
        ],
    )


def _rate(entry: dict) -> str:
    low, high = entry["interval"] if entry["interval"] else (float("nan"), float("nan"))
    return f"{entry['count']}/{entry['of']} [{low:.2f}, {high:.2f}]"


def headline(results: dict) -> str:
    claims = table.select(table.read(results), metric="claimed")
    adversarial = manifold_grading.rate([row.value for row in claims if row.arm != POSITIVE])
    positive = manifold_grading.rate([row.value for row in claims if row.arm == POSITIVE])
    return f"false claims on all adversaries {_rate(adversarial)}; planted circles claimed {positive['count']}/{positive['of']}"


def plot(results: dict, arrays: dict, folder) -> list:
    alpha = facts.read(results, circle_cells.ClaimFacts).alpha
    figure, axes = panels.panels(1, width=7.2, height=3.4)
    panels.strip_by_arm(
        axes[0],
        table.read(results),
        "top_evidence",
        "claimed",
        f"Blind top evidence per dictionary (coloured: claimed at p ≤ {alpha}; red on a no-circle kind is a false claim)",
        colours={POSITIVE: "#4c9a5a"},
    )
    axes[0].set_ylabel("top circle evidence")
    axes[0].set_ylim(-0.02, 1.02)
    return [panels.finish(figure, axes, "", folder / "adversary_evidence.png", legend=False)]


def rates_from_table(rows: list[table.Row], metric: str = "claimed") -> tuple[dict, dict]:
    """From the results table: per kind (in run order) its claims, its claims per k and its largest top
    evidence; and the false claims over every adversary (every kind but the counterpart). `metric`:
    "claimed" (the claim), or "claimed_on_evidence" (p ≤ α alone, without the activation ring)."""
    claimed = table.select(rows, reader="blind ranking", metric=metric)
    rates = {}
    for kind in dict.fromkeys(row.arm for row in claimed):
        mine = table.select(claimed, arm=kind)
        ks = list(dict.fromkeys(row.setting["k"] for row in mine))
        rates[kind] = {
            "claims": manifold_grading.rate([bool(row.value) for row in mine]),
            "by_k": {str(k): manifold_grading.rate([bool(row.value) for row in mine if row.setting["k"] == k]) for k in ks},
            "top_evidence_max": max(
                row.value or 0.0 for row in table.select(rows, reader="blind ranking", metric="top_evidence", arm=kind)
            ),
        }
    adversarial = manifold_grading.rate([bool(row.value) for row in claimed if row.arm != POSITIVE])
    return rates, adversarial


def summary(results: dict) -> str:
    """From the results table (the null's stratum from the run's record)."""
    rows = table.read(results)
    rates, adversarial = rates_from_table(rows)
    before, before_adversarial = rates_from_table(rows, "claimed_on_evidence")
    ks = list(next(iter(rates.values()))["by_k"])
    lines = [f"{'kind':<18}{'claims (95% interval)':>26}{'max top':>9}  " + "  ".join(f"k={k}" for k in ks) + f"{'on evidence alone':>20}"]
    for kind, entry in rates.items():
        lines.append(
            f"{kind:<18}{_rate(entry['claims']):>26}{entry['top_evidence_max']:>9.3f}  "
            + "  ".join(f"{e['count']}/{e['of']}" for e in entry["by_k"].values())
            + (f"{_rate(before[kind]['claims']):>20}" if kind in before else "")
        )
    run = facts.read(results, circle_cells.ClaimFacts)
    lines += [
        "",
        f"false claims over every adversary: {_rate(adversarial)} (level α = {run.alpha})"
        + (f"; on evidence alone (no activation ring): {_rate(before_adversarial)}" if before else ""),
        f"null: the stored stratum steps={run.stratum.steps} batch_size={run.stratum.batch_size} "
        f"n_geometry={run.stratum.n_geometry}, per k; '{POSITIVE}' is the counterpart that must be claimed",
    ]
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline)
