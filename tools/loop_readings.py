"""A diagnostic for issue 38: do truth-free ring readings tell a loop from a filled region on trained SAEs?

For toys of `circle-adversaries` (its quick settings: d = 64, 200 sparse features, m = 512, 2,000 steps)
— the planted circle, its null and decoupled twins (`experiments.circle_cells.twin_toys`) and the
adversaries — TopK SAEs train at k = 2, 4, 8; the blind method ranks each dictionary's candidate groups,
and for its top three the script prints, beside the circle evidence e, readings of the points projected
on the group's plane (the top two principal directions of its reconstructions' directions) about the
Kåsa centre: the radius CV and the within-angle radius CV (24 angle bins; a loop, even a polygon, has one
radius per angle) of the activations x ("x_"), of the full reconstructions ("full_") and of the group-only
reconstructions ("grp_"), and the correlation of the squared coordinates ("_csq": −1 on a circle, 0 for
independent coordinates), and the claim's own activation ring ("ring_roundness", "ring_closure":
`sae.readers.activation_ring.read`). One JSON line per dictionary.

    .venv/bin/python tools/loop_readings.py SEEDS [KIND,KIND,...]

The ceiling a grader sees: `tools/loop_readings.py planted SEEDS` reads x on the *planted* plane (the
truth), on the samples that carry the circle, for the planted circle and its decoupled twin.
"""

import dataclasses
import json
import sys

import jax
import numpy as np

from experiments import circle_cells
from experiments.recovery import seed_keys
from experiments.studies import circle_adversaries as ca
from sae.readers import activation_ring, geometry, manifold_ranking
from toys import adversaries

config = dataclasses.replace(ca.Config.quick(), ks=(2, 4, 8))


def ring(points_x, codes, decoder, latents):
    codes = np.asarray(codes)
    latents = np.asarray(latents)
    fires = np.any(codes[:, latents] > 0, axis=1)
    rows = manifold_ranking._thin(np.flatnonzero(fires), manifold_ranking.MAX_ROWS)
    if len(rows) < 4:
        return None
    dirs = geometry.group_directions(codes, decoder, latents, rows)
    fitted = geometry.pca(dirs)
    comps = fitted.components[:2]
    out = {}
    group = codes[rows][:, latents] @ np.asarray(decoder)[latents]
    for name, pts in (("x", np.asarray(points_x)[rows]), ("full", codes[rows] @ np.asarray(decoder)), ("grp", group)):
        z = (pts - pts.mean(0)) @ comps.T
        c = geometry.circle_centre(z)
        R = np.linalg.norm(z - c, axis=1)
        zc = z - c
        out[name + "_cv"] = float(R.std() / max(R.mean(), 1e-12))
        out[name + "_csq"] = float(np.corrcoef(zc[:, 0] ** 2, zc[:, 1] ** 2)[0, 1])
        ang = np.arctan2(zc[:, 1], zc[:, 0])
        b = np.floor((ang + np.pi) / (2 * np.pi / 24)).astype(int)
        within = [R[b == i].std() * (b == i).sum() for i in np.unique(b) if (b == i).sum() >= 3]
        out[name + "_wcv"] = float(sum(within) / max(len(R), 1) / max(R.mean(), 1e-12))
    return out


def span_ring(points_x, codes, decoder, latents) -> dict:
    """The claim's activation ring (`sae.readers.activation_ring.read`): x of the samples where the group
    fires, in the plane its directions fit (truth-free)."""
    ring = activation_ring.read(points_x, codes, decoder, latents)
    return {"ring_roundness": round(ring.roundness, 3), "ring_closure": round(ring.closure, 3)}


def toys_of(kind, key, seeds):
    keys = seed_keys(key, 0, list(range(seeds)))
    if kind in TWINS:
        base = [ca._positive_toy(config, k) for k in keys]
        return [circle_cells.twin_toys(t)[TWINS.index(kind)] for t in base]
    return [adversaries.build(dataclasses.replace(config.structure, kind=kind), k) for k in keys]


def planted(seeds: int) -> None:
    """The readings of x on the planted plane, samples carrying the circle (a grader's view: the truth)."""
    for seed in range(seeds):
        toy = ca._positive_toy(config, jax.random.PRNGKey(seed))
        out = {}
        for name, twin in zip(("circle", "decoupled twin"), (toy, circle_cells.twin_toys(toy)[2])):
            batch = twin.sample(jax.random.PRNGKey(100 + seed), config.n_geometry)
            carried = np.asarray((batch.truth or {})["present"])[:, 0]
            z = np.asarray(batch.x)[carried] @ np.asarray(twin.bases[0])[:2].T
            centred = z - geometry.circle_centre(z)
            radius = np.linalg.norm(centred, axis=1)
            out[name] = {
                "cv": round(float(radius.std() / radius.mean()), 3),
                "csq": round(float(np.corrcoef(centred[:, 0] ** 2, centred[:, 1] ** 2)[0, 1]), 3),
            }
        print(json.dumps({"toy": seed, **out}), flush=True)


TWINS = ("circle", "null twin", "decoupled twin")


def _refuse(message: str) -> None:
    """Bad input: one line, exit code 2, nothing run."""
    print(f"loop_readings: {message}", file=sys.stderr)
    raise SystemExit(2)


def _count(text: str, field: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        _refuse(f"{field}: got {text!r}, allowed an integer in [1, inf)")
    return int(text)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "planted":
        planted(_count(sys.argv[2], "SEEDS") if len(sys.argv) > 2 else 3)
        return
    seeds = _count(sys.argv[1], "SEEDS") if len(sys.argv) > 1 else 2
    allowed = (*TWINS, *adversaries.KINDS)
    kinds = sys.argv[2].split(",") if len(sys.argv) > 2 else [*TWINS, "sphere", "split triangle", "arc", "dense cluster", "helix"]
    unknown = [kind for kind in kinds if kind not in allowed]
    if unknown:
        _refuse(f"KINDS: got {', '.join(map(repr, unknown))}, allowed {', '.join(allowed)}")
    root = jax.random.PRNGKey(5)
    for index, kind in enumerate(kinds):
        key_toys, key_train, key_sample = jax.random.split(jax.random.fold_in(root, index), 3)
        toys = toys_of(kind, key_toys, seeds)
        runs, obs = ca.train_and_observe(config, toys, key_train, key_sample, kind)
        for i, (s, k) in enumerate(runs):
            o = obs[i]
            ans = manifold_ranking.find_and_rank(o.x, o.codes, o.decoder, seed=0)
            r = ans.ranked
            tops = []
            for j in r.order[:3]:
                e = r.evidence[j]
                g = {**(ring(o.x, o.codes, o.decoder, ans.groups[j]) or {}), **span_ring(o.x, o.codes, o.decoder, ans.groups[j])}
                tops.append(
                    {
                        "e": round(e.evidence, 3),
                        "n": len(ans.groups[j]),
                        **({kk: round(v, 3) for kk, v in g.items()} if g else {}),
                    }
                )
            print(json.dumps({"kind": kind, "seed": s, "k": k, "tops": tops}), flush=True)


if __name__ == "__main__":
    main()
