"""Feature maps: where a dictionary places its latents, and whether that placement holds structure
beyond what the latents' co-firing statistics predict.

A method in the wall's sense: it reads a dictionary's decoder rows D [m, d] and its codes on
samples a(x) [N, m], never a toy's truth. Shapes (in the signatures): m latents, d dimensions, N samples, k neighbours.

Definitions (all on cosine similarity between rows, the metric a UMAP of decoder rows uses):

- `neighbours(rows, k)`: each row's k nearest other rows by cosine, [m, k].
- `neighbour_clustering(rows, k)` T: the mean local clustering coefficient of the symmetrised
  k-nearest-neighbour graph (the share of a latent's neighbour pairs that are neighbours of each
  other). Rank-based, so any monotone change of the similarities leaves it unchanged; random
  directions give a low T, latents placed in clusters, on a loop or along a tree a high one.
- `neighbour_overlap(a, b)`: the mean share of each latent's k neighbours in one placement that are
  also its neighbours in the other (chance k/(m − 1)).

The argument under test says a feature list plus "any nearly orthogonal basis", or plus the
features' correlations, explains an activation space. Its two nulls, as placements of the same
latents (`sae.readers.knockoff`):

(a) *any basis will do*: random unit directions with the decoder's row norms
    (`knockoff.random_placement`); T is drawn `n_null` times.
(b) *the correlations pin it down*: unit rows whose Gram matrix is the codes' correlation matrix
    (its nearest rank-d form; `knockoff.correlation_placement`). This is the strongest version of
    the claim: it places every latent exactly as its co-firing says, as close to its co-firing
    partners as a d-dimensional placement allows, and nothing else. Its sampling spread is drawn by
    resampling the samples (a bootstrap, `n_null` replicates).

`placement_verdict` then asks two questions, each against its null distribution at level α:

1. *Structured*: T(D) above the (1 − α) quantile of T under (a).
2. *Predicted by the statistics*: the overlap of D's neighbourhoods with (b)'s above the (1 − α)
   quantile of the same overlap with (b)'s latents relabelled at random (`n_null` permutations:
   a placement with the statistics' geometry that knows nothing of which latent is which).
   `explained` = (overlap − k/(m − 1)) / (1 − k/(m − 1)): the share of D's neighbourhoods the
   statistics place right, beyond chance (0: none, 1: all).

"Placement carries structure beyond the statistics" is claimed when D is structured and the
statistics do not predict its neighbourhoods.

`umap_embedding`: a 2-D UMAP of the rows (umap-learn, cosine metric), for the pictures only: no
verdict reads it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from sae.readers import knockoff
from toys.engine.shapes import AnyArray

DEFAULT_NEIGHBOURS = 10
DEFAULT_NULLS = 200
ALPHA = 0.05


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def check_rows(rows, k: int, what: str = "decoder") -> np.ndarray:
    """The rows as float64 [m, d], refused in one line when no map can be read from them."""
    rows = np.asarray(rows, np.float64)
    if rows.ndim != 2:
        raise ValueError(f"{what}: got shape {rows.shape}, allowed [m, d]")
    if not np.all(np.isfinite(rows)):
        bad = np.flatnonzero(~np.all(np.isfinite(rows), axis=1))
        raise ValueError(f"{what}: rows {bad[:5].tolist()} are not finite ({len(bad)} of {len(rows)})")
    if np.any(np.linalg.norm(rows, axis=1) == 0):
        raise ValueError(f"{what}: {int(np.sum(np.linalg.norm(rows, axis=1) == 0))} rows are zero (no direction)")
    if rows.shape[0] < k + 2:
        raise ValueError(f"{what}: got {rows.shape[0]} latents, allowed at least k + 2 = {k + 2} for k = {k} neighbours")
    return rows


def neighbours(rows: Float[AnyArray, "m d"], k: int) -> Int[np.ndarray, "m k"]:
    """Each row's k nearest other rows by cosine, nearest first (O(m²): a partition, then the k sorted)."""
    unit = _unit(rows)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]  # the k largest, unordered (O(m²))
    order = np.argsort(-np.take_along_axis(similarity, nearest, axis=1), axis=1, kind="stable")
    return np.take_along_axis(nearest, order, axis=1)


def neighbour_clustering(rows: Float[AnyArray, "m d"], k: int) -> float:
    """T: the mean local clustering coefficient of the symmetrised k-nearest-neighbour graph."""
    sets = neighbours(rows, k)
    m = len(sets)
    adjacency = np.zeros((m, m), bool)
    adjacency[np.repeat(np.arange(m), k), sets.ravel()] = True
    adjacency |= adjacency.T
    a = adjacency.astype(np.float64)
    degree = a.sum(axis=1)
    triangles = ((a @ a) * a).sum(axis=1) / 2.0  # diag(A³)/2, by one matrix product
    pairs = degree * (degree - 1) / 2.0
    return float(np.mean(np.where(pairs > 0, triangles / np.maximum(pairs, 1.0), 0.0)))


def neighbour_overlap(a: Int[np.ndarray, "m k"], b: Int[np.ndarray, "m k"]) -> float:
    """The mean share of each latent's neighbours in `a` that are among its neighbours in `b`."""
    m, k = a.shape
    rows = np.arange(m)[:, None]
    in_b = np.zeros((m, max(m, int(b.max()) + 1)), bool)
    in_b[rows, b] = True  # row i marks latent i's neighbours in b
    return float(in_b[rows, a].sum() / (m * k))


class Verdict(NamedTuple):
    structure: float  # T(D)
    random_null: np.ndarray  # T under (a), [n_null]
    structure_threshold: float  # its (1 − α) quantile
    structured: bool
    statistics_overlap: float  # overlap(D, (b))
    statistics_null: np.ndarray  # overlap(D, (b) relabelled), [n_null]
    statistics_threshold: float  # its (1 − α) quantile
    predicted: bool  # the statistics place D's neighbourhoods better than chance
    explained: float  # (overlap − chance) / (1 − chance)
    statistics_structure: float  # T((b)): how structured the statistics' own placement is
    chance_overlap: float  # k / (m − 1)
    claimed: bool  # structured, and not predicted by the statistics

    def as_dict(self) -> dict:
        return {
            "structure": self.structure,
            "structure_threshold": self.structure_threshold,
            "random_null_mean": float(self.random_null.mean()),
            "structured": self.structured,
            "statistics_overlap": self.statistics_overlap,
            "statistics_threshold": self.statistics_threshold,
            "predicted": self.predicted,
            "explained": self.explained,
            "statistics_structure": self.statistics_structure,
            "chance_overlap": self.chance_overlap,
            "claimed": self.claimed,
        }


class Structure(NamedTuple):
    structure: float  # T(D)
    random_null: np.ndarray  # T under (a), [n_null]
    threshold: float  # its (1 − α) quantile
    structured: bool


def structure_test(
    decoder: Float[AnyArray, "m d"], seed: int, k: int = DEFAULT_NEIGHBOURS, n_null: int = DEFAULT_NULLS, alpha: float = ALPHA
) -> Structure:
    """Question 1 alone (decoder rows only, no codes): T(D) against random placement of the same latents."""
    decoder = check_rows(decoder, k)
    rng = np.random.default_rng(seed)
    structure = neighbour_clustering(decoder, k)
    null = np.array([neighbour_clustering(knockoff.random_placement(rng, decoder), k) for _ in range(n_null)])
    threshold = float(np.quantile(null, 1 - alpha))
    return Structure(structure, null, threshold, bool(structure > threshold))


def placement_verdict(
    codes: Float[AnyArray, "N m"],
    decoder: Float[AnyArray, "m d"],
    seed: int,
    k: int = DEFAULT_NEIGHBOURS,
    n_null: int = DEFAULT_NULLS,
    alpha: float = ALPHA,
) -> Verdict:
    """Whether the decoder's placement holds structure beyond each null (module docstring).

    codes: the dictionary's codes on N samples; `seed` draws the nulls."""
    decoder = check_rows(decoder, k)
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[1] != decoder.shape[0]:
        raise ValueError(f"codes: got shape {codes.shape}, allowed [N, {decoder.shape[0]}] (one column per latent)")
    m = decoder.shape[0]
    structure, random_null, structure_threshold, structured = structure_test(decoder, seed, k, n_null, alpha)
    rng = np.random.default_rng([seed, 1])  # the second question's own stream

    statistics = knockoff.correlation_placement(rng, codes, decoder).placement
    statistics_sets = neighbours(statistics, k)
    decoder_sets = neighbours(decoder, k)
    overlap = neighbour_overlap(decoder_sets, statistics_sets)
    relabelled = []
    for _ in range(n_null):
        order = rng.permutation(m)  # latent order[i] takes latent i's place: neighbours renamed alike
        inverse = np.argsort(order)
        relabelled.append(neighbour_overlap(decoder_sets, inverse[statistics_sets[order]]))
    statistics_null = np.asarray(relabelled)
    statistics_threshold = float(np.quantile(statistics_null, 1 - alpha))
    chance = k / (m - 1)
    predicted = bool(overlap > statistics_threshold)
    return Verdict(
        structure,
        random_null,
        structure_threshold,
        structured,
        overlap,
        statistics_null,
        statistics_threshold,
        predicted,
        (overlap - chance) / (1 - chance),
        neighbour_clustering(statistics, k),
        chance,
        structured and not predicted,
    )


def umap_embedding(rows: Float[AnyArray, "m d"], n_neighbors: int = 15, seed: int = 0, min_dist: float = 0.1) -> Float[np.ndarray, "m 2"]:
    """A 2-D UMAP of the rows with the cosine metric (umap-learn; deterministic for a seed)."""
    rows = check_rows(rows, n_neighbors - 1)
    import umap  # an import of numba's compiler: paid only when a map is drawn

    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric="cosine",
        random_state=seed,
        n_components=2,
        n_jobs=1,
        init="spectral" if len(rows) > n_neighbors + 2 else "random",
    )
    return np.asarray(reducer.fit_transform(rows), np.float64)
