"""Clustering points by the cosine similarity of their representations, scored against known groups.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): N points, D representation dimensions, K clusters.

Pipeline (`cluster`): each coordinate is standardised over the N points
(z = (v − mean) / std; constant coordinates are dropped) and rows are normalised to
unit length, so that Euclidean distance is a function of cosine similarity,
‖u − v‖² = 2 − 2 cos(u, v). The affinity graph links each point to its `n_neighbors`
most cosine-similar points (symmetrised: A = (B + Bᵀ)/2 for the 0/1 k-nearest-neighbour
matrix B), and scikit-learn's spectral clustering (normalised Laplacian, k-means on the
embedding) cuts it into K clusters.

Why these choices: without standardising, a few coordinates shared by every point (a
large mean) dominate every cosine; and a nearest-neighbour graph keeps only each
point's strongest similarities, which survives the noise that a dense affinity such as
max(cos, 0) sums over all N points (for instance the ±1/√k noise a random projection
adds to every cosine). `standardise_columns=False` keeps the vectors as they are.

K without the truth (`cluster_blind`, `qdg`): the eigengap heuristic (von Luxburg 2007,
§8.3) on the same affinity: with 0 = λ₁ ≤ λ₂ ≤ … the eigenvalues of the normalised
Laplacian L = I − D^{−1/2} A D^{−1/2}, K = argmax_{2 ≤ k ≤ K_max} (λ_{k+1} − λ_k).

QDG as its authors ran it (`qdg_affinities`, `qdg_sweep`; Michaud et al. 2023, read from their
repository's `experiments/clustering-0`: `compute_similarity_full_more.py` and
`compute_clusters_sparse_full_more.py`): per-sample loss gradients of low-loss samples
(all parameters but layernorms and embeddings; this lab's MLP has neither), each normalised
to unit length; C = G Gᵀ; the angular affinity A = 1 − arccos(C)/π, and beside it
A_abs = |G| |G|ᵀ (the entries' absolute values, which ignores each gradient entry's sign; they
pass it to the clustering as it is); scikit-learn's spectral clustering on each
(`affinity="precomputed"`, 30 k-means restarts) at a fixed list of cluster counts, with no rule
for K. A blind K beside the sweep (`silhouette_k`, ours): the count whose clustering has the
largest silhouette on the distance 1 − A (for the angular affinity, arccos(C)/π): an internal
validity index that reads the gradients only, and is not biased towards 2 by one dominant
cluster as the eigengap of a dense affinity is (a cluster of n_c of N points puts a Laplacian
eigenvalue near 1 − n_c/N, so only the largest stands out).

`qdg` (the lab's earlier version, kept for comparison under its name): the cosine affinity
A_ij = (C_ij + 1)/2 over all pairs and K by the eigengap.

Scores against the true groups (graders; the clusterings above never see the truth): the adjusted Rand index (ARI; 0 for chance, 1 for the
same partition) and normalised mutual information (NMI), both from scikit-learn, and a
confusion matrix whose clusters are ordered to match the groups (Hungarian).
"""

from __future__ import annotations

import warnings

import numpy as np
from jaxtyping import Float, Int
from scipy.optimize import linear_sum_assignment

from toys.engine.shapes import AnyArray


def standardise(v: Float[AnyArray, "N D"]) -> np.ndarray:
    """Each column z-scored over the rows; columns with zero spread are dropped."""
    v = np.asarray(v, np.float64)
    std = v.std(axis=0)
    keep = std > 1e-12 * max(float(np.abs(v).max()), 1e-300)
    return (v[:, keep] - v[:, keep].mean(axis=0)) / std[keep]


def cosine_similarity(v: Float[AnyArray, "N D"]) -> np.ndarray:
    """C_ij = ⟨v_i, v_j⟩ / (‖v_i‖ ‖v_j‖), [N, N] (a zero row has similarity 0 to everything)."""
    unit = unit_rows(v)
    return unit @ unit.T


N_NEIGHBORS = 30


def unit_rows(v: Float[AnyArray, "N D"]) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)


def cluster(
    v: Float[AnyArray, "N D"], n_clusters: int, seed: int = 0, standardise_columns: bool = True, n_neighbors: int = N_NEIGHBORS
) -> np.ndarray:
    """Spectral clustering of the rows of v [N, D] on their cosine k-nearest-neighbour graph → labels [N]."""
    from sklearn.cluster import (
        SpectralClustering,  # here, not at the top: scikit-learn loads pandas and pyarrow (~1 s), which a refusal need not pay
    )

    v = standardise(v) if standardise_columns else np.asarray(v, np.float64)
    n_neighbors = min(n_neighbors, len(v) - 1)
    with warnings.catch_warnings():
        # a graph that falls apart into pieces is a legitimate (well-separated) outcome
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        model = SpectralClustering(n_clusters, affinity="nearest_neighbors", n_neighbors=n_neighbors, random_state=seed)
        return model.fit_predict(unit_rows(v))


def _affinity(v, n_neighbors: int):
    """The symmetrised 0/1 cosine k-nearest-neighbour graph of `cluster` (rows already prepared)."""
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(unit_rows(v), n_neighbors, include_self=True)
    return 0.5 * (graph + graph.T).toarray()


def eigengap_k(affinity: Float[AnyArray, "N N"], max_clusters: int) -> int:
    """K = argmax_{2 ≤ k ≤ max_clusters} (λ_{k+1} − λ_k) of the normalised Laplacian of a dense affinity."""
    affinity = np.asarray(affinity, np.float64)
    degree = np.maximum(affinity.sum(axis=1), 1e-300)
    scaled = affinity / np.sqrt(degree)[:, None] / np.sqrt(degree)[None, :]
    eigenvalues = np.sort(1.0 - np.linalg.eigvalsh(scaled))
    top = min(max_clusters, len(eigenvalues) - 1)
    gaps = np.diff(eigenvalues[: top + 1])  # gaps[k − 1] = λ_{k+1} − λ_k
    return int(np.argmax(gaps[1:]) + 2) if top >= 2 else 1


def cluster_blind(
    v: Float[AnyArray, "N D"], max_clusters: int, seed: int = 0, standardise_columns: bool = True, n_neighbors: int = N_NEIGHBORS
) -> tuple[np.ndarray, int]:
    """`cluster` with K chosen by the eigengap of its own affinity (module docstring): (labels [N], K)."""
    prepared = standardise(v) if standardise_columns else np.asarray(v, np.float64)
    n_neighbors = min(n_neighbors, len(prepared) - 1)
    k = eigengap_k(_affinity(prepared, n_neighbors), max_clusters)
    return cluster(prepared, k, seed, standardise_columns=False, n_neighbors=n_neighbors), k


def qdg(unit_loss_gradients: Float[AnyArray, "N D"], max_clusters: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """The lab's earlier QDG variant (not the authors'; module docstring) on unit-length per-sample loss
    gradients [N, P]: cosine affinity (C + 1)/2, K by the eigengap, spectral clustering. (labels [N], K)."""
    from sklearn.cluster import SpectralClustering

    g = unit_rows(unit_loss_gradients)
    affinity = (g @ g.T + 1.0) / 2.0
    k = eigengap_k(affinity, max_clusters)
    model = SpectralClustering(k, affinity="precomputed", random_state=seed)
    return model.fit_predict(affinity), k


# the authors' cluster counts (compute_clusters_sparse_full_more.py, for 10,000 samples)
QDG_CLUSTER_COUNTS = (
    10,
    20,
    30,
    40,
    50,
    60,
    70,
    80,
    90,
    100,
    125,
    150,
    175,
    200,
    225,
    250,
    275,
    300,
    350,
    400,
    500,
    600,
    700,
    800,
    900,
    1000,
    1100,
    1200,
    1400,
    1500,
)
QDG_RESTARTS = 30


def qdg_affinities(unit_loss_gradients: Float[AnyArray, "N D"]) -> dict[str, np.ndarray]:
    """{"angular": 1 − arccos(C)/π, "absolute": |G| |G|ᵀ}, each [N, N], for per-sample gradients [N, P]
    (rows normalised to unit length here)."""
    g = unit_rows(unit_loss_gradients)
    return {"angular": 1.0 - np.arccos(np.clip(g @ g.T, -1.0, 1.0)) / np.pi, "absolute": np.abs(g) @ np.abs(g).T}


def qdg_sweep(affinity: Float[AnyArray, "N N"], cluster_counts, seed: int = 0, restarts: int = QDG_RESTARTS) -> dict[int, np.ndarray]:
    """{K: labels [N]} of spectral clustering on a precomputed affinity [N, N] at each cluster count."""
    from sklearn.cluster import SpectralClustering

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        return {
            int(k): SpectralClustering(int(k), affinity="precomputed", n_init=restarts, random_state=seed).fit_predict(affinity)
            for k in cluster_counts
        }


def silhouette_k(affinity: Float[AnyArray, "N N"], labels_by_k: dict[int, np.ndarray]) -> int:
    """The K whose labels have the largest silhouette on the distance 1 − affinity (module docstring)."""
    from sklearn.metrics import silhouette_score

    distance = np.clip(1.0 - np.asarray(affinity, np.float64), 0.0, None)
    np.fill_diagonal(distance, 0.0)
    best, best_score = min(labels_by_k), -np.inf
    for k, labels in sorted(labels_by_k.items()):
        if 2 <= len(np.unique(labels)) < len(labels):
            score = silhouette_score(distance, labels, metric="precomputed")
            if score > best_score:
                best, best_score = k, score
    return int(best)


AFFINITIES = ("angular", "knn")


def affinity(v: Float[AnyArray, "N D"], kind: str, n_neighbors: int = N_NEIGHBORS) -> np.ndarray:
    """An affinity [N, N] between the rows of v [N, D] (used as they are; rows normalised to unit length):
    "angular", QDG's 1 − arccos(C)/π over all pairs; "knn", `cluster`'s symmetrised 0/1 cosine
    k-nearest-neighbour graph (k = min(n_neighbors, N − 1)); "absolute", QDG's |G||G|ᵀ."""
    if kind == "angular":
        return qdg_affinities(v)["angular"]
    if kind == "knn":
        return _affinity(np.asarray(v, np.float64), min(n_neighbors, len(v) - 1))
    if kind == "absolute":
        return qdg_affinities(v)["absolute"]
    raise ValueError(f"affinity: got {kind!r}, expected one of {(*AFFINITIES, 'absolute')}")


def sweep_counts(n_points: int, max_clusters: int) -> list[int]:
    """The K of a sweep: 2…9 (a toy has tens of groups; the authors' list starts at 10) and the authors'
    counts (QDG_CLUSTER_COUNTS), those ≤ max_clusters and below the number of points."""
    counts = [*range(2, 10), *QDG_CLUSTER_COUNTS]
    return [k for k in counts if k <= max_clusters and k < n_points]


def affinity_sweep(
    v: Float[AnyArray, "N D"], affinity_kind: str, max_clusters: int, seed: int = 0, restarts: int = QDG_RESTARTS
) -> dict[str, np.ndarray]:
    """The blind arm of a clustering comparison, on rows v [N, D]: spectral clustering of
    `affinity(v, affinity_kind)` at every K of `sweep_counts(N, max_clusters)` (`qdg_sweep`), and the
    blind K: the silhouette (`silhouette_k`) on the rows' angular distance arccos(C)/π, the same rule
    whatever the affinity, so that a comparison of affinities does not also change the K rule.
    {"counts": [S], "labels": [S, N], "blind_k": K}."""
    counts = sweep_counts(len(v), max_clusters)
    sweep = qdg_sweep(affinity(v, affinity_kind), counts, seed, restarts)
    blind = silhouette_k(affinity(v, "angular"), sweep) if counts else 0
    return {
        "counts": np.asarray(counts, np.int64),
        "labels": np.stack([sweep[k] for k in counts]) if counts else np.zeros((0, len(v)), np.int64),
        "blind_k": np.asarray(blind, np.int64),
    }


def affinity_clustering(
    v: Float[AnyArray, "N D"], affinity_kind: str, n_clusters: int, seed: int = 0, restarts: int = QDG_RESTARTS
) -> np.ndarray:
    """`affinity_sweep`'s clustering at one given K → labels [N] (for a K given from outside: a ceiling
    when K is the true group count)."""
    return qdg_sweep(affinity(v, affinity_kind), [n_clusters], seed, restarts)[int(n_clusters)]


def scores(truth: Int[AnyArray, " N"], labels: Int[AnyArray, " N"]) -> dict:
    """{"ari", "nmi"} of predicted labels against the true groups."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"ari": float(adjusted_rand_score(truth, labels)), "nmi": float(normalized_mutual_info_score(truth, labels))}


def confusion(truth: Int[AnyArray, " N"], labels: Int[AnyArray, " N"]) -> tuple[np.ndarray, np.ndarray]:
    """Counts [groups, clusters] with clusters reordered to best match the groups (Hungarian);
    returns (matrix, the group values in row order)."""
    groups, truth_index = np.unique(truth, return_inverse=True)
    clusters, label_index = np.unique(labels, return_inverse=True)
    counts = np.zeros((len(groups), len(clusters)), int)
    np.add.at(counts, (truth_index, label_index), 1)
    rows, columns = linear_sum_assignment(-counts)
    order = list(columns[np.argsort(rows)]) + [c for c in range(len(clusters)) if c not in set(columns)]
    return counts[:, order], groups
