"""Grading the blind manifold ranking against a planted circle: a *grader*, it sees the truth.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, m latents, d activation dimensions.

The method (`sae.readers.manifold_finder` proposes groups, `sae.readers.manifold_ranking` ranks them and
tests the top one, from codes and a decoder only) has already answered when this module
runs; here its answer meets the truth (`sae.readers.geometry.PlantedCircle`).

A candidate group is **found** for a circle when its top-2 PCA plane lies within
`FOUND_ANGLE_DEG` = 10° of the planted plane and its per-value centroids go round in cyclic
order (`sae.readers.geometry.match_circle` on that group alone). Per dictionary and circle:
- `exists`: some candidate is found, chosen *with* the truth (`score_circle` below:
  the candidate nearest the planted plane that covers most of its samples): the ceiling, not
  a method result;
- `recall_at_1`, `recall_at_3`: the blind top candidate, or one of the blind top three, is found;
- `first_found_rank`: the blind rank (1-based) of the first found candidate among the top
  `SEARCH_DEPTH`, or None;
- `claimed`: the blind claim on the top candidate (p ≤ α), and `claimed_found`: it is
  claimed and found (a true claim); `claimed_any_found`: one of the candidates claimed on
  their own p-values (a dictionary may hold several circles) is found.

False claims (`false_claim`): a control on which the blind top candidate is claimed — the
null twin's SAE (the same toy with the circle zeroed), the decoupled twin's (its two
coordinates read independent phases) or a random dictionary, where any claim is false — or
on which it is claimed *and* found against the wrong truth (a random 2-plane inside the span
of the dictionary's live decoder rows, `random_plane`). Where one dictionary holds several
circles, `unmatched_claims` counts the claimed candidates that match none of them.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from jaxtyping import Bool, Float, Int

from sae.readers import geometry, manifold_finder, manifold_ranking
from toys.engine.shapes import AnyArray

FOUND_ANGLE_DEG = geometry.PLANE_MATCH_DEG  # "found": the group's plane within this of the planted plane, and in cyclic order
SEARCH_DEPTH = 10


def is_found(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], circle: geometry.PlantedCircle
) -> bool:
    """Whether one candidate group matches the circle: ≤ FOUND_ANGLE_DEG and in cyclic order."""
    match = geometry.match_circle(
        codes, decoder, [np.asarray(latents)], circle.plane, circle.span, circle.present, circle.phases, circle.values
    )
    return bool(len(match.latents) and match.max_principal_angle_deg <= FOUND_ANGLE_DEG and match.cyclic_order)


def grade_ranking(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    groups,
    ranked: manifold_ranking.Ranked,
    circle: geometry.PlantedCircle,
    depth: int = SEARCH_DEPTH,
) -> dict:
    """recall@1, recall@3, the first found rank, the claim and whether it is true (module docstring)."""
    found = [is_found(codes, decoder, groups[i], circle) for i in ranked.order[:depth]]
    first = next((r + 1 for r, hit in enumerate(found) if hit), None)
    return {
        "recall_at_1": bool(found[:1] and found[0]),
        "recall_at_3": bool(any(found[:3])),
        "first_found_rank": first,
        "claimed": ranked.claimed,
        "claimed_found": bool(ranked.claimed and found[:1] and found[0]),
        # several circles: some candidate claimed on its own p-value (they lead the order) is found
        "claimed_any_found": bool(any(found[: min(ranked.claims, depth)])),
        "claims": ranked.claims,
        "top_evidence": ranked.top_evidence,
        "p_value": ranked.p_value,
        "candidates": len(groups),
    }


def unmatched_claims(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    groups,
    ranked: manifold_ranking.Ranked,
    circles: list[geometry.PlantedCircle],
    depth: int = SEARCH_DEPTH,
) -> int:
    """Claims that are false where a dictionary holds several planted circles: candidates claimed on
    their own p-values (they lead the order; at most `depth` read) that are found for none of them."""
    claimed = [groups[i] for i in ranked.order[: min(ranked.claims, depth)]]
    return sum(not any(is_found(codes, decoder, latents, circle) for circle in circles) for latents in claimed)


def false_claim(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    groups,
    ranked: manifold_ranking.Ranked,
    wrong: geometry.PlantedCircle | None,
) -> dict:
    """A control's verdict: the top candidate claimed (wrong=None: any claim is false), or claimed and
    found against the wrong truth."""
    claimed = bool(ranked.claimed)
    if wrong is None or not claimed:
        return {
            "false_claim": claimed,
            "claimed": claimed,
            "top_evidence": ranked.top_evidence,
            "p_value": ranked.p_value,
            "candidates": len(groups),
        }
    hit = is_found(codes, decoder, groups[ranked.order[0]], wrong)
    return {
        "false_claim": bool(hit),
        "claimed": claimed,
        "top_evidence": ranked.top_evidence,
        "p_value": ranked.p_value,
        "candidates": len(groups),
    }


def random_plane(rng: np.random.Generator, decoder: Float[AnyArray, "m d"], live: Bool[AnyArray, " m"]) -> np.ndarray:
    """A random 2-plane [2, d] inside the span of the live decoder rows (Gaussian combinations, orthonormalised)."""
    rows = np.asarray(decoder, np.float64)[np.asarray(live, bool)]
    combination = rng.normal(size=(2, len(rows))) @ rows
    q, _ = np.linalg.qr(combination.T)
    return q.T[:2]


def wrong_plane(circle: geometry.PlantedCircle, plane: np.ndarray) -> geometry.PlantedCircle:
    """The circle's samples and labels, placed in another plane (span = that plane)."""
    return circle._replace(name=f"{circle.name} (random plane)", plane=plane, span=plane)


def rate(flags) -> dict:
    """{"rate", "count", "of", "interval"} of a list of booleans (rate and interval None when empty)."""
    flags = [bool(f) for f in flags]
    return count_rate(sum(flags), len(flags))


def count_rate(count: int, of: int) -> dict:
    """{"rate", "count", "of", "interval"} of a count out of `of`: the interval is the exact
    (Clopper–Pearson) two-sided 95% interval of the rate; rate and interval None when of is 0."""
    interval = None
    if of:
        ci = scipy.stats.binomtest(int(count), int(of)).proportion_ci(confidence_level=0.95, method="exact")
        interval = [float(ci.low), float(ci.high)]
    return {"rate": count / of if of else None, "count": int(count), "of": int(of), "interval": interval}


# --- the ceiling: the candidate chosen with the truth, and the oracle group -----------------

TILING_CO_ACTIVE = 2.0  # at most this many of a group's latents active per sample (mean): a tiling


def oracle_group(decoder: Float[AnyArray, "m d"], live: Bool[AnyArray, " m"], span) -> np.ndarray:
    """What the SAE actually learned for a manifold: the live latents whose decoder rows hold
    ≥ ½ of their energy in its true span (`sae.readers.geometry.on_manifold`)."""
    return np.flatnonzero(geometry.on_manifold(decoder, span) & np.asarray(live, bool))


def co_active(codes: Float[AnyArray, "n m"], latents: Int[AnyArray, " S"], rows) -> float:
    """The mean number of the group's latents active on those samples of `rows` where it fires (0 if none)."""
    active = np.sum(np.asarray(codes)[np.asarray(rows)][:, latents] > 0, axis=1)
    return float(active[active > 0].mean()) if np.any(active > 0) else 0.0


def mode_of(codes: Float[AnyArray, "n m"], latents: Int[AnyArray, " S"], rows) -> str:
    """How the SAE holds a manifold with this group: "tiling" when at most TILING_CO_ACTIVE of its
    latents are active per manifold sample on average (one arc, or two neighbouring arcs, at a
    time), else "span" (a basis used together)."""
    return "tiling" if co_active(codes, latents, rows) <= TILING_CO_ACTIVE else "span"


def score_circle(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    circle: geometry.PlantedCircle,
    groups,
    found_by=None,
    shapes: bool = True,
    seed: int = 0,
) -> tuple[dict, geometry.CircleMatch]:
    """Scores of the group (among `groups`, latent-index arrays) that best matches a planted circle.

    The best group (`sae.readers.geometry.match_circle`): among groups within FOUND_ANGLE_DEG of the
    planted plane, the one covering most of the circle's samples; else the closest. Scores: found (≤ FOUND_ANGLE_DEG and cyclic order by
    measure (a)), max_principal_angle_deg, cyclic_order, adjacent_share,
    rank_circular_correlation, ordering_score (per sample, as before), ordering_samples,
    coverage, purity, recall, cluster_size, cluster_dimension, mode (`mode_of`, on the
    circle's samples), co_active, found_by (the link rule that produced the group, from
    `found_by` aligned with groups; None when not given), shape and betti (`sae.readers.topology`
    of the group's reconstructions' directions; "n/a" without shapes).
    """
    groups = [np.asarray(g) for g in groups]
    match = geometry.match_circle(codes, decoder, groups, circle.plane, circle.span, circle.present, circle.phases, circle.values)
    rows = np.flatnonzero(np.asarray(circle.present))
    shape, betti = "n/a", None
    if len(match.latents):
        if shapes:
            described = manifold_finder.describe(codes, decoder, match.latents, shapes=True, seed=seed)
            if described.shape is not None:
                shape, betti = described.shape.shape, list(described.shape.betti)
        which = next((i for i, g in enumerate(groups) if np.array_equal(g, match.latents)), None)
    found = bool(match.max_principal_angle_deg <= FOUND_ANGLE_DEG and match.cyclic_order)
    scores = {
        "found": found,
        "max_principal_angle_deg": match.max_principal_angle_deg,
        "cyclic_order": match.cyclic_order,
        "adjacent_share": match.adjacent_share,
        "rank_circular_correlation": match.rank_circular_correlation,
        "ordering_score": match.ordering_score,
        "ordering_samples": match.ordering_samples,
        "coverage": match.coverage,
        "purity": match.purity,
        "recall": match.recall,
        "cluster_size": int(len(match.latents)),
        "cluster_dimension": match.dimension,
        "mode": mode_of(codes, match.latents, rows) if len(match.latents) else None,
        "co_active": co_active(codes, match.latents, rows) if len(match.latents) else 0.0,
        "found_by": (found_by[which] if found_by is not None and len(match.latents) and which is not None else None),
        "shape": shape,
        "betti": betti,
    }
    return scores, match


PLANE_MATCH_DEGREES = 20.0  # a found plane is a frequency's when every principal angle to its subspace is below


def frequency_of_plane(basis, subspaces: dict, degrees: float = PLANE_MATCH_DEGREES) -> int | None:
    """The frequency whose subspace (truth: {f: orthonormal rows [r_f, d]}, e.g.
    `toys.modular.frequency_subspaces`) holds a found plane (basis [2, d]) within `degrees` (the
    largest principal angle), the closest one when several do; None when none does. A random
    plane in d dimensions meets a 4-dimensional subspace at about 90°."""
    best, best_angle = None, degrees
    for frequency, rows in subspaces.items():
        if len(rows) < 2:
            continue
        angle = float(geometry.principal_angles_deg(basis, rows).max())
        if angle < best_angle:
            best, best_angle = int(frequency), angle
    return best
