"""`toylab theory [--quick]`: every claim of theory/ at a scale beyond its tests, as a table.

For each claim (theory.catalogue): its statement and source, the predicted and measured
values, the relation and tolerance, and the verdict. results.json holds `claims` (a list
of {id, topic, statement, source, instance, relation, predicted, measured, tolerance,
holds}) and `all_hold`; figures:

- coherence.png: the maximum coherence of m Rademacher vectors in R^n against m, beside
  the Welch lower bound, the scale √(4 ln m / n) and the δ = 1e-9 union bound;
- paley_zygmund.png: the exact tail P(⟨x, y⟩ > τσ) for several y against (1 − τ²)²/6, and
  the sparse-coordinate negative control falling below it;
- compatible_structures.png: mean reconstruction error against dictionary size for each
  L0, for a circle, a sphere and a torus (the trade-off surface).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from theory import compatible, random_vectors
from theory.catalogue import TOPICS

NAME = "theory"


def evaluate(quick: bool, seed: int) -> list[dict]:
    """Check every claim at its `toylab theory` instance, printing progress to stderr."""
    rows = []
    total = sum(len(claims) for claims in TOPICS.values())
    for topic, claims in TOPICS.items():
        for claim in claims:
            started = time.perf_counter()
            instance = claim.instance(quick, seed)
            check = claim.check(instance)
            rows.append(
                {
                    "id": claim.id,
                    "topic": topic,
                    "statement": claim.statement,
                    "source": claim.source,
                    "instance": claim.describe(instance),
                    "relation": check.relation,
                    "predicted": check.predicted,
                    "measured": check.measured,
                    "tolerance": check.tolerance,
                    "holds": check.holds,
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
            print(
                f"[{len(rows)}/{total}] {claim.id}: {'holds' if check.holds else 'FAILS'} ({rows[-1]['seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return rows


def coherence_curve(quick: bool, seed: int) -> dict:
    n, draws = 64, 5
    sizes = [80, 128, 256, 512, 1024] + ([] if quick else [2048, 4096])
    rng = np.random.default_rng(seed)
    return {
        "n": n,
        "m": sizes,
        # mean over `draws` independent frames per m (one draw jitters by a grid step 2/n)
        "draws": draws,
        "measured": [
            float(np.mean([random_vectors.max_coherence(random_vectors.rademacher_frame(rng, n, m)) for _ in range(draws)])) for m in sizes
        ],
        "welch": [random_vectors.welch_bound(n, m) for m in sizes],
        "scale": random_vectors.coherence_scale(n, sizes).tolist(),
        "bound": random_vectors.coherence_bound(n, sizes).tolist(),
    }


def paley_zygmund_curves(seed: int) -> dict:
    taus = np.linspace(0.0, 0.99, 100)
    n = 12
    vectors = {
        "flat y = 1": (np.ones(n), 1.0),
        "Gaussian y": (np.random.default_rng(seed).standard_normal(n), 1.0),
        "spiky y = e₁": (np.eye(n)[0], 1.0),
        "negative control: sparse coordinates (q = 0.05), y = e₁": (np.eye(n)[0], 0.05),
    }
    curves = {}
    for name, (y, sparsity) in vectors.items():
        law = random_vectors.sum_law(y, sparsity)
        sigma = np.linalg.norm(y) / np.sqrt(n)
        curves[name] = [random_vectors.upper_tail(law, tau * sigma) for tau in taus]
    return {"n": n, "tau": taus.tolist(), "bound": random_vectors.paley_zygmund_bound(taus).tolist(), "tails": curves}


TRADEOFF_SIZES = {
    "circle": [4, 6, 8, 12, 16, 24, 32, 48, 64],
    "sphere": [6, 8, 12, 16, 24, 32, 48, 64, 96],
    "torus": [8, 12, 16, 24, 32, 48, 64],
}
TRADEOFF_SPARSITIES = [1, 2, 3, 4]


def tradeoff_surfaces(quick: bool, seed: int) -> dict:
    points = 500 if quick else 4000
    return {
        structure: {
            "sizes": sizes,
            "sparsities": TRADEOFF_SPARSITIES,
            "mean_error": compatible.tradeoff(structure, sizes, TRADEOFF_SPARSITIES, points, seed).tolist(),
        }
        for structure, sizes in TRADEOFF_SIZES.items()
    } | {"points": points}


def run(quick: bool, seed: int) -> dict:
    claims = evaluate(quick, seed)
    return {
        "claims": claims,
        "all_hold": all(row["holds"] for row in claims),
        "coherence": coherence_curve(quick, seed),
        "paley_zygmund": paley_zygmund_curves(seed),
        "tradeoff": tradeoff_surfaces(quick, seed),
    }


def headline(results: dict) -> str:
    """One number for `toylab runs`: how many claims hold."""
    claims = results["claims"]
    return f"{sum(c['holds'] for c in claims)} of {len(claims)} claims hold"


def summary(results: dict) -> str:
    lines = [f"{'claim':<31} {'source':<26} {'predicted':>12} rel {'measured':>12}  {'verdict':<7}  instance"]
    topic = None
    for row in results["claims"]:
        if row["topic"] != topic:
            topic = row["topic"]
            lines.append(f"— {topic}")
        source = row["source"].split(";")[0]
        lines.append(
            f"{row['id']:<31} {source[:26]:<26} {row['predicted']:>12.6g}  {row['relation']}  "
            f"{row['measured']:>12.6g}  {'holds' if row['holds'] else 'FAILS':<7}  {row['instance']}"
        )
    failed = [row["id"] for row in results["claims"] if not row["holds"]]
    lines.append(
        f"\n{len(results['claims']) - len(failed)} of {len(results['claims'])} claims hold"
        + (f"; FAILING: {', '.join(failed)}" if failed else "")
    )
    return "\n".join(lines)


def plot(results: dict, folder) -> list:
    """The three figures, each making one point (see the module docstring)."""
    import matplotlib.pyplot as plt

    from experiments.runner.runfolder import save_figure

    paths = []
    curve = results["coherence"]
    figure, ax = plt.subplots(figsize=(6.2, 4.2))
    ax.plot(curve["m"], curve["measured"], "o-", color="C0", label=f"measured max |⟨xᵢ, xⱼ⟩| (Rademacher, mean of {curve['draws']} draws)")
    ax.plot(curve["m"], curve["bound"], "k--", label="union bound at δ = 1e-9: √(2 ln(m(m−1)/δ)/n)")
    ax.plot(curve["m"], curve["scale"], "k:", label="scale √(4 ln m / n)")
    ax.plot(curve["m"], curve["welch"], "-", color="C3", label="Welch lower bound √((m−n)/(n(m−1)))")
    ax.set_xscale("log")
    ax.set_xlabel("number of vectors m")
    ax.set_ylabel("maximum coherence μ")
    ax.set_title(f"Maximum coherence of m random unit vectors in R^{curve['n']}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    paths.append(save_figure(figure, folder / "coherence.png"))

    pz = results["paley_zygmund"]
    figure, ax = plt.subplots(figsize=(6.2, 4.2))
    for index, (name, tail) in enumerate(pz["tails"].items()):
        style = ":" if name.startswith("negative") else "-"
        ax.step(pz["tau"], tail, style, where="post", color=f"C{index}", label=name)
    ax.plot(pz["tau"], pz["bound"], "k--", lw=2, label="Paley–Zygmund bound (1 − τ²)²/6")
    ax.set_xlabel("τ")
    ax.set_ylabel("P(⟨x, y⟩ > τ‖y‖/√n), exact")
    # the claim's own check runs at n = 16 (quick) / 20; the figure enumerates the law exactly, which
    # for the sparse control costs 3ⁿ, so it is drawn at a smaller n and says so
    ax.set_title(
        f"Tail of ⟨x, y⟩ against the Paley–Zygmund bound, drawn at n = {pz['n']}\n"
        "(the claim is checked at n = 16 with --quick, 20 without)",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    paths.append(save_figure(figure, folder / "paley_zygmund.png"))

    tradeoff = results["tradeoff"]
    floor = 1e-12
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
    for ax, structure in zip(axes, compatible.STRUCTURES):
        surface = np.asarray(tradeoff[structure]["mean_error"])
        sizes = tradeoff[structure]["sizes"]
        for column, sparsity in enumerate(tradeoff[structure]["sparsities"]):
            if sparsity > compatible.EXACT_SPARSITY[structure]:
                continue  # exact already with fewer atoms: the same line at the floor
            ax.plot(sizes, np.maximum(surface[:, column], floor), "o-", color=f"C{column}", label=f"L0 = {sparsity}")
        ax.axhline(floor, color="0.6", lw=0.8, ls=":")
        ax.text(tradeoff[structure]["sizes"][0], floor * 3, "exact (error 0)", fontsize=8, color="0.4")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(size) for size in sizes], fontsize=8)
        ax.minorticks_off()
        ax.set_xlabel("dictionary size m")
        ax.set_title(f"{structure} (exact from L0 = {compatible.EXACT_SPARSITY[structure]})")
    axes[0].set_ylabel("mean ‖x − x̂‖²/‖x‖², best nonnegative code")
    axes[2].legend(fontsize=8)
    figure.suptitle("Reconstruction error × L0 × dictionary size for manifolds tiled by atoms")
    paths.append(save_figure(figure, folder / "compatible_structures.png"))
    return paths
