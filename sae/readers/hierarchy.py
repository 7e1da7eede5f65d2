"""Hierarchies read off dictionaries, and how they compare with a planted tree.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): F true features, m latents, d dims, n samples.

A forest over the F true features is a parent array (parents[c] = c's parent, −1 for
a root or a feature that was not found). Both inferred forests below are expressed
that way, so they are scored by the same two functions:

- edge recall = #{c : planted[c] ≥ 0 and inferred[c] = planted[c]} / #{c : planted[c] ≥ 0},
  the share of planted parent → child edges recovered; edge precision is the share
  of inferred edges that are planted ones;
- tree similarity, the normalised Robinson–Foulds similarity on clusters: every
  feature with descendants defines the cluster {itself} ∪ descendants; with A and B
  the two sets of clusters, similarity = 1 − |A Δ B| / (|A| + |B|) (1 for the same
  tree, 0 when no cluster is shared; 1 when both forests are flat).

Latents are read as features by decoder cosine: latent j is assigned to
a(j) = argmax_f cos(t_f, D_j) when that cosine is at least `threshold`, else to none.

Inferred forests:
- `splitting_parents` (feature splitting across dictionary sizes m_1 < m_2 < …):
  each latent at size m_{s+1} is linked to its nearest latent (decoder cosine) at
  size m_s. A feature c that first gets an assigned latent at size m_s (s > 0) was
  split off the latent it links to; its inferred parent is that latent's feature.
  Features already present at the smallest size, or never found, are roots.
- `linkage_parents` (hierarchical clustering of one dictionary, scipy average
  linkage): each found feature c is represented by its best assigned live latent.
  The distance between representatives is 1 − cos of decoder rows ("cosine"), or
  1 − |A ∩ B| / min(|A|, |B|) of their firing sets ("cofiring", the overlap
  coefficient, which is 0 for a child that fires only with its parent). A dendrogram
  has no direction, so the hierarchy's own one is used: a parent fires at least as
  often as its child. Walking up from c, the first cluster holding a representative
  that fires more often than c's gives c's parent: the nearest such one (ties go to
  the one that fires least, the tightest superset).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float
from scipy.cluster import hierarchy as scipy_hierarchy
from scipy.spatial.distance import squareform

from toys.engine.shapes import AnyArray

MATCH_THRESHOLD = 0.5  # a latent stands for a feature when their decoder cosine is at least this


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


def clusters(parents) -> set[frozenset]:
    """{feature} ∪ its descendants for every feature that has children."""
    parents = np.asarray(parents)
    children: dict[int, list[int]] = {}
    for child, parent in enumerate(parents):
        if parent >= 0:
            children.setdefault(int(parent), []).append(child)
    found, memo = set(), {}

    def descendants(node):
        if node not in memo:
            memo[node] = frozenset([node]).union(*(descendants(c) for c in children.get(node, [])))
        return memo[node]

    for node in children:
        found.add(descendants(node))
    return found


def tree_similarity(planted, inferred) -> float:
    """1 − |A Δ B| / (|A| + |B|) over the two forests' clusters (Robinson–Foulds, normalised)."""
    a, b = clusters(planted), clusters(inferred)
    if not a and not b:
        return 1.0
    return 1.0 - len(a ^ b) / (len(a) + len(b))


def edge_recall(planted, inferred) -> float:
    """Share of planted parent → child edges that the inferred forest has."""
    planted, inferred = np.asarray(planted), np.asarray(inferred)
    has_parent = planted >= 0
    return float(np.mean(inferred[has_parent] == planted[has_parent])) if has_parent.any() else 1.0


def edge_precision(planted, inferred) -> float:
    """Share of inferred edges that are planted (1 when nothing is inferred)."""
    planted, inferred = np.asarray(planted), np.asarray(inferred)
    has_parent = inferred >= 0
    return float(np.mean(inferred[has_parent] == planted[has_parent])) if has_parent.any() else 1.0


def tree_scores(planted, inferred) -> dict:
    return {
        "edge_recall": edge_recall(planted, inferred),
        "edge_precision": edge_precision(planted, inferred),
        "tree_similarity": tree_similarity(planted, inferred),
    }


def assign(
    decoder: Float[AnyArray, "m d"], true_features: Float[AnyArray, "F d"], threshold: float = MATCH_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """(a [m], its cosine [m]): each latent's best feature, −1 where the cosine is below threshold."""
    cosine = _unit(decoder) @ _unit(true_features).T  # [m, F]
    best = np.argmax(cosine, axis=1)
    value = cosine[np.arange(len(best)), best]
    return np.where(value >= threshold, best, -1), value


def splitting_parents(decoders, true_features: Float[AnyArray, "F d"], threshold: float = MATCH_THRESHOLD) -> np.ndarray:
    """Inferred parents from dictionaries of increasing size (decoders: list of [m_s, d])."""
    n_features = len(true_features)
    inferred = np.full(n_features, -1)
    assigned = [assign(decoder, true_features, threshold) for decoder in decoders]
    seen = np.zeros(n_features, bool)
    seen[assigned[0][0][assigned[0][0] >= 0]] = True
    for s in range(1, len(decoders)):
        links = np.argmax(_unit(decoders[s]) @ _unit(decoders[s - 1]).T, axis=1)  # nearest latent one size down
        features, cosine = assigned[s]
        for c in np.unique(features[(features >= 0) & ~seen[np.maximum(features, 0)]]):
            members = np.flatnonzero(features == c)
            j = members[np.argmax(cosine[members])]
            inferred[c] = assigned[s - 1][0][links[j]]
        seen[features[features >= 0]] = True
    return inferred


def representatives(
    decoder: Float[AnyArray, "m d"], true_features: Float[AnyArray, "F d"], live: Bool[AnyArray, " m"], threshold: float = MATCH_THRESHOLD
) -> dict[int, int]:
    """{feature: its best assigned live latent} for every found feature."""
    features, cosine = assign(decoder, true_features, threshold)
    chosen: dict[int, int] = {}
    for j in np.flatnonzero((features >= 0) & np.asarray(live, bool)):
        c = int(features[j])
        if c not in chosen or cosine[j] > cosine[chosen[c]]:
            chosen[c] = int(j)
    return chosen


def cofiring_distance(firing) -> np.ndarray:
    """1 − |A ∩ B| / min(|A|, |B|) between the columns of a boolean firing matrix [n, r] → [r, r]."""
    firing = np.asarray(firing, np.float64)
    both = firing.T @ firing
    counts = np.diag(both)
    smaller = np.maximum(np.minimum.outer(counts, counts), 1.0)
    distance = 1.0 - both / smaller
    np.fill_diagonal(distance, 0.0)
    return np.clip(distance, 0.0, 1.0)


def linkage_parents(
    decoder: Float[AnyArray, "m d"],
    true_features: Float[AnyArray, "F d"],
    firing,
    metric: str = "cosine",
    threshold: float = MATCH_THRESHOLD,
) -> np.ndarray:
    """Inferred parents from average-linkage clustering of one dictionary's latents.

    decoder [m, d]; firing [n, m] bool (whether each latent fires on each sample).
    """
    firing = np.asarray(firing, bool)
    inferred = np.full(len(true_features), -1)
    chosen = representatives(decoder, true_features, firing.any(axis=0), threshold)
    if len(chosen) < 2:
        return inferred
    features = np.array(sorted(chosen))
    latents = np.array([chosen[c] for c in features])
    rows = _unit(np.asarray(decoder)[latents])
    cosine = rows @ rows.T
    if metric == "cosine":
        distance = np.clip(1.0 - cosine, 0.0, 2.0)
        np.fill_diagonal(distance, 0.0)
    elif metric == "cofiring":
        distance = cofiring_distance(firing[:, latents])
    else:
        raise ValueError(f"metric: got {metric!r}, allowed values cosine, cofiring")
    r = len(features)
    merges = scipy_hierarchy.linkage(squareform(distance, checks=False), method="average")
    # members[node]: which representatives lie under each dendrogram node (leaves first)
    members = np.zeros((2 * r - 1, r), bool)
    members[np.arange(r), np.arange(r)] = True
    up = np.full(2 * r - 1, -1)
    for i, (left, right) in enumerate(merges[:, :2].astype(int)):
        members[r + i] = members[left] | members[right]
        up[left] = up[right] = r + i
    rate = firing[:, latents].mean(axis=0)
    for leaf in range(r):
        node = up[leaf]
        while node >= 0:
            candidates = np.flatnonzero(members[node] & (rate > rate[leaf]))
            if len(candidates):
                # nearest by the linkage's own distance; ties (a child is at co-firing distance 0
                # from its parent and its grandparent alike) go to the rarer, i.e. the tighter superset
                nearest = candidates[np.lexsort((rate[candidates], distance[leaf, candidates]))[0]]
                inferred[features[leaf]] = features[nearest]
                break
            node = up[node]
    return inferred
