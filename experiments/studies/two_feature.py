"""Experiment `two-feature`: Chanin et al.'s exact absorption toy, in theory and trained.

Toy (toys.trees.two_feature_config): a parent feature t_p and its child t_c in R²; the
parent fires alone with probability p10 and with the child with probability p11 (the
child never fires alone), magnitudes 1, no noise. Two dictionaries reconstruct it
exactly (theory.absorption): the "not absorbed" one (atoms t_p, t_c) and the
"absorbed" one (atoms t_p and normalise(t_p + t_c)), whose L1 is lower by
(2 − √2) p11; an L1 penalty therefore prefers absorption, and the nested Matryoshka
loss does not when λ(2 − √2) < 1.

Trained: 2-latent SAEs without decoder bias — ReLU + L1 and the same with nested
prefix losses (`matryoshka_l1`) at the same λ — started inside the data's cone (so no
latent starts dead). Read: the parent latent (best decoder cosine with t_p) and its
activation on t_p alone and on t_p + t_c (absorbed: ≈ 0 on t_p + t_c).
"""

from __future__ import annotations

import dataclasses

from experiments import two_feature_absorption
from experiments.runner import facts, panels, seeding, table
from experiments.runner.study import Result, Study
from experiments.two_feature_absorption import study
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime

NAME = "two-feature"
DESCRIPTION = "the exact two-feature absorption toy: closed forms, hand-built and trained ReLU vs Matryoshka SAEs"


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    p10: float = setting(0.3, "P(parent fires alone)", low=0, low_open=True, high=1)
    p11: float = setting(0.2, "P(parent and child fire)", low=0, low_open=True, high="1 - p10")
    l1_coefficient: float = setting(0.3, "λ of both losses", low=0, low_open=True)
    n_seeds: int = setting(8, low=1)
    steps: int = setting(3000, low=1)
    learning_rate: float = setting(3e-3, low=0, low_open=True)

    @classmethod
    def quick(cls) -> "Config":
        return cls()  # the full study takes seconds

    def validate(self) -> None:
        check_fields(self)


def run(config: Config, runtime: Runtime | None = None) -> Result:
    results = study(
        config.p10,
        config.p11,
        config.l1_coefficient,
        config.n_seeds,
        config.steps,
        config.learning_rate,
        seeding.root_key(config.seed),
        runtime,
    )
    return Result(results, table=two_feature_absorption.rows(results, config.seed))


def headline(results: dict) -> str:
    """One number for `toylab runs`: the parent latent on parent + child (absorbed ≈ 0), per architecture."""
    rows = table.select(table.read(results), metric="parent_on_both")
    values = ", ".join(f"{arm} {table.mean(rows, arm=arm):.2f}" for arm in dict.fromkeys(row.arm for row in rows))
    return f"parent latent on parent+child (absorbed ≈ 0): {values}"


def plot(results: dict, arrays: dict, folder) -> list:
    rows = table.read(results)
    figure, axes = panels.panels(1, width=5.2, height=3.6)
    # the title states what this run measured: the parent latent's mean on parent + child per architecture
    both = table.select(rows, metric="parent_on_both")
    measured = ", ".join(f"{arm} {table.mean(both, arm=arm):.2f}" for arm in dict.fromkeys(row.arm for row in both))
    λ = facts.read(results, two_feature_absorption.Facts).l1_coefficient
    title = f"The parent latent on parent + child, λ = {λ} (absorbed ≈ 0, kept ≈ 1):\nmean {measured}"
    panels.strip_by_arm(axes[0], rows, "parent_on_parent", None, title, colour="C0", label="on the parent alone")
    panels.strip_by_arm(axes[0], rows, "parent_on_both", None, title, colour="C3", marker="x", label="on parent + child")
    axes[0].axhline(0, color="0.6", lw=1)
    axes[0].set_ylabel("parent latent's activation")
    return [panels.finish(figure, axes, "", folder / "parent_latent.png")]


def summary(results: dict) -> str:
    """From the results table (the probabilities and λ from the run's facts)."""
    return two_feature_absorption.summary_text(table.read(results), facts.read(results, two_feature_absorption.Facts))


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline)
