"""A diagnostic for issue 42: why the placement verdict fails on trained SAEs, and whether a null (b)
that discounts what the dictionary's own placement writes into its codes mends it.

For each cell of `feature-map` (its quick settings, with the toys' closeness ε, TopK's AuxK
coefficient and the training steps given here), TopK SAEs and random dictionaries are trained and
read as the study reads them. Per dictionary the script prints one JSON line:

- grader readings (the truth, for the diagnosis only): the median over latents of the best |cosine|
  with a planted feature, and the share of latents that never fire;
- T, and null (b) as the study builds it: the share of the decoder's neighbourhoods the codes'
  correlations explain (`explained`) and whether that overlap passes the relabelling band (`predicted`);
- *corrected*: the same with the correlation the placement writes subtracted: every latent's codes
  shuffled across samples on its own (independent firing, the same marginals), decoded, re-encoded by the
  dictionary's own TopK, and the correlation of those codes taken off the observed one;
- *simulated*: the overlap that null (b) reaches on five such independent-firing simulations, and
  whether the observed overlap exceeds all five.

    .venv/bin/python tools/feature_map_codes.py [CLOSENESS [AUX [STEPS [SEED]]]]

Defaults: the study's ε (0.3), no AuxK, 1,500 steps, seed 0.
"""

import dataclasses
import json
import sys

import jax
import numpy as np

from experiments.studies import feature_map as study
from sae import pipeline
from sae.readers import feature_map
from toys import placements

NAME = "feature_map_codes"


def _refuse(message: str) -> None:
    """Bad input: one line, exit code 2, nothing run."""
    print(f"{NAME}: {message}", file=sys.stderr)
    raise SystemExit(2)


def _number(text: str, what: str, low: float, integer: bool = False) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = None
    if value is None or not np.isfinite(value) or value < low:
        kind = "an integer" if integer else "a number"
        _refuse(f"{what}: got {text!r}, allowed {kind} ≥ {low}")
    return value  # type: ignore[return-value]


def correlation(codes) -> np.ndarray:
    codes = np.asarray(codes, np.float64)
    varies = codes.std(axis=0) > 0
    corr = np.eye(codes.shape[1])
    if varies.sum() > 1:
        corr[np.ix_(varies, varies)] = np.corrcoef(codes[:, varies], rowvar=False)
    return corr


def placement_of(corr: np.ndarray, d: int) -> np.ndarray:
    """Unit rows whose Gram matrix is the nearest rank-d form of `corr` (null (b)'s construction)."""
    values, vectors = np.linalg.eigh(corr)
    order = np.argsort(values)[::-1][:d]
    rows = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def topk_codes(x, params, k: int) -> np.ndarray:
    pre = np.maximum((x - params.b_dec) @ params.W_enc + params.b_enc, 0.0)
    index = np.argpartition(-pre, k - 1, axis=1)[:, :k]
    codes = np.zeros_like(pre)
    rows = np.arange(len(x))[:, None]
    codes[rows, index] = pre[rows, index]
    return codes


def overlap(decoder, rows, rng, k: int, n_null: int) -> tuple[float, float, float]:
    """(overlap, its relabelling band's 95% point, explained) of the decoder's neighbourhoods with `rows`'."""
    m = len(decoder)
    ours, theirs = feature_map.neighbours(decoder, k), feature_map.neighbours(rows, k)
    observed = feature_map.neighbour_overlap(ours, theirs)
    null = []
    for _ in range(n_null):
        order = rng.permutation(m)
        null.append(feature_map.neighbour_overlap(ours, np.argsort(order)[theirs[order]]))
    chance = k / (m - 1)
    return observed, float(np.quantile(null, 0.95)), (observed - chance) / (1 - chance)


def independent(rng, codes) -> np.ndarray:
    return np.stack([rng.permutation(codes[:, j]) for j in range(codes.shape[1])], axis=1)


def main() -> None:
    args = sys.argv[1:]
    if len(args) > 4:
        _refuse(f"got {len(args)} arguments, allowed at most 4: CLOSENESS AUX STEPS SEED")
    closeness = _number(args[0], "CLOSENESS", 0.0) if len(args) > 0 else 0.3
    aux = _number(args[1], "AUX", 0.0) if len(args) > 1 else 0.0
    steps = int(_number(args[2], "STEPS", 1, integer=True)) if len(args) > 2 else 1500
    seed = int(_number(args[3], "SEED", 0, integer=True)) if len(args) > 3 else 0
    config = study.Config.quick()
    config = dataclasses.replace(config, seed=seed, steps=steps, toy=dataclasses.replace(config.toy, closeness=closeness))
    k, d = config.neighbours, config.toy.d
    for index, (name, placement, firing, family) in enumerate(study.CELLS):
        key_toy, key_train, key_eval, key_chance = study.cell_keys(config, index)
        toy = placements.build(study._cell_config(config, placement, firing), key_toy)
        hps, fitted = study.fit_cell(config, toy, key_train, aux_coefficient=aux)
        x = np.asarray(toy.sample(key_eval, config.n_eval).x)
        chance = pipeline.chance_dictionaries(jax.random.split(key_chance, config.n_seeds), d, config.sae_size)
        arms = [("topk", np.asarray(pipeline.encode("topk", fitted.params, hps, x)), fitted.params)]
        arms.append(("random", np.asarray(pipeline.chance_codes(chance, config.k, x)), chance))
        directions = np.asarray(toy.directions)
        for arm, all_codes, stacked in arms:
            for g in range(config.n_seeds):
                params = jax.tree.map(lambda leaf, g=g: np.asarray(leaf[g], np.float64), stacked)
                codes, decoder = all_codes[g].astype(np.float64), params.W_dec
                rng = np.random.default_rng([seed, index, g])
                unit = decoder / np.maximum(np.linalg.norm(decoder, axis=1, keepdims=True), 1e-12)
                observed = correlation(codes)
                plain = overlap(decoder, placement_of(observed, d), rng, k, config.n_null)
                written = correlation(topk_codes(independent(rng, codes) @ decoder + params.b_dec, params, config.k))
                corrected = overlap(decoder, placement_of(observed - written + np.eye(len(decoder)), d), rng, k, config.n_null)
                simulated = [
                    overlap(
                        decoder,
                        placement_of(correlation(topk_codes(independent(rng, codes) @ decoder + params.b_dec, params, config.k)), d),
                        rng,
                        k,
                        1,
                    )[0]
                    for _ in range(5)
                ]
                line = {
                    "cell": name,
                    "family": family,
                    "arm": arm,
                    "replica": g,
                    "median_best_cosine": round(float(np.median(np.abs(unit @ directions.T).max(axis=1))), 3),
                    "dead_share": round(float(((codes > 0).mean(axis=0) == 0).mean()), 3),
                    "T": round(feature_map.neighbour_clustering(decoder, k), 3),
                    "explained": round(plain[2], 3),
                    "predicted": plain[0] > plain[1],
                    "corrected_explained": round(corrected[2], 3),
                    "corrected_predicted": corrected[0] > corrected[1],
                    "simulated_max": round(max(simulated), 3),
                    "observed_overlap": round(plain[0], 3),
                    "beyond_simulated": plain[0] > max(simulated),
                }
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
