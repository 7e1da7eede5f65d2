"""Finding multi-dimensional features in a dictionary, by either mode an SAE uses for them.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, m latents (m_live of
them fire at least once), d activation dimensions.

An SAE captures a manifold (a circle, a sphere, ...) in one of two ways, often a mix
(Engels et al. 2024, "Not all language model features are one-dimensionally linear";
Goodfire's 2026 study of manifolds in SAEs):
- **tiling**: many latents, each covering an arc; one or two fire at a time. Their
  decoder rows lie in the manifold's low-dimensional span, so each row is (almost) a
  combination of a few others;
- **span**: a handful of latents forming a linear (partly antipodal) basis of the span;
  several fire together on every sample of the manifold.

Two link rules find them, each against its own chance level, so no cutoff depends on d,
on m, or on the number of samples:
- **subspace links** (tiling). For each live latent l, orthogonal matching pursuit over
  the other live unit decoder rows picks up to `MAX_ATOMS` = 3 atoms (3 = a circle's span
  with its offset direction); e_t is the energy of û_l left outside the first t atoms'
  span (t = 1 is 1 − cos² with the nearest row: the cosine rule), and f_t = 1 − e_t/e_{t−1}
  the share of what was left that atom t removed. Both are compared with their chance
  levels from `NULL_DRAWS` dictionaries of m_live random unit rows in d dimensions run
  through the same pursuit: τ_t, the smallest e_t seen, and φ_t, the largest f_t seen.
  l is linked to its first T atoms, T the largest t with e_t < τ_t (jointly they explain l
  beyond chance), less trailing atoms with f_t ≤ φ_t (an atom that only nibbles at noise,
  as after an exact duplicate). A second pursuit without the first one's first atom links
  a row past its twin or antipode, so a tiling by ±u, ±v is linked across its lines. A
  latent of a fresh random dictionary beats the smallest of `NULL_DRAWS` · m_live chance
  residuals with probability ≈ 1/(`NULL_DRAWS` · m_live) per t and pursuit, so a random
  dictionary has at most 2 · 3 / `NULL_DRAWS` = 1.5 linked latents on average (measured:
  0.8 over 60 random dictionaries with d ∈ [8, 64], m ∈ [50, 400]).
- **co-firing links** (span). Latents i and j with firing counts c_i, c_j on n samples
  co-fire c_ij times; under independence c_ij ~ Poisson(c_i c_j / n). They are linked
  when P(X ≥ c_ij) < α / (m_live (m_live − 1) / 2) (Bonferroni over all pairs, α =
  `ALPHA` = 0.01): dependence that chance would show in 1% of dictionaries.

Candidates are the connected components (≥ `MIN_GROUP` latents) of each link graph (and
of their union: the mix of both modes) and
the refinements of components and of each latent's local group (`refine`: the live
latents with ≥ ½ of their energy in the group's span, read in 2 to 5 directions),
recording which rule found them. Each candidate carries its reconstructions x̂_S = f[:,
S] D[S] on the samples where a latent of S fires, read as directions x̂_S/‖x̂_S‖
(`sae.readers.geometry.cluster_geometry`), their PCA (`sae.readers.geometry.pca`), its
dimension (the scree elbow, `sae.readers.geometry.zhu_ghodsi_elbow`) and its shape by
persistent homology (`sae.readers.topology`). This module is a *method*: it reads codes and a
decoder, never a truth. `sae.readers.manifold_ranking` ranks its candidates blind;
`sae.readers.manifold_grading` grades them against a planted circle (`score_circle`, with the
truth choosing among candidates: the ceiling; `oracle_group`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.stats
from jaxtyping import Bool, Float, Int

from sae.readers import geometry, topology
from toys.engine.shapes import AnyArray

MAX_ATOMS = 3
NULL_DRAWS = 4
ALPHA = 0.01
MIN_GROUP = 3  # fewer latents cannot trace a closed curve in the top-2 plane
MODES = ("tiling", "span")
MAX_SHAPE_POINTS = 4 * topology.MAX_POINTS  # reconstructions handed to the shape reader


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def pursuit_residuals(rows, max_atoms: int = MAX_ATOMS, excluded=None) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal matching pursuit of each unit row over the others, all rows at once.

    rows [m, d]; excluded [m, m] bool: atoms a row may not use (besides itself). Returns (residual
    energies e [m, max_atoms], e[:, t−1] after t atoms;
    atoms [m, max_atoms], the rows picked in order). Atoms are picked by the largest
    |⟨residual, û_b⟩| (antipodal rows count: a basis may use −u).
    """
    unit = _unit(rows)
    m = len(unit)
    steps = min(max_atoms, max(m - 1, 0))
    residual = unit.copy()
    basis = np.zeros((m, 0, unit.shape[1]))
    energies = np.ones((m, max_atoms))
    atoms = np.full((m, max_atoms), -1)
    taken = np.eye(m, dtype=bool)  # a row never explains itself
    if excluded is not None:
        taken |= np.asarray(excluded, bool)
    for t in range(steps):
        scores = np.abs(residual @ unit.T)
        scores[taken] = -1.0
        pick = np.argmax(scores, axis=1)
        atoms[:, t] = pick
        taken[np.arange(m), pick] = True
        # Gram–Schmidt the new atom against each row's basis, then remove it from the residual
        overlap = np.einsum("mtd,md->mt", basis, unit[pick])
        new = unit[pick] - np.einsum("mt,mtd->md", overlap, basis)
        new = new / np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-12)
        basis = np.concatenate([basis, new[:, None]], axis=1)
        residual = residual - np.sum(residual * new, axis=1, keepdims=True) * new
        energies[:, t] = np.sum(residual**2, axis=1)
    return energies, atoms


def explained_fractions(energies) -> np.ndarray:
    """f_t = 1 − e_t / e_{t−1} (e_0 = 1): the share of the remaining energy atom t removed, [m, T]
    (0 once nothing is left)."""
    before = np.concatenate([np.ones((len(energies), 1)), energies[:, :-1]], axis=1)
    return np.where(before > 1e-9, 1.0 - energies / np.maximum(before, 1e-12), 0.0)


def chance_levels(m: int, d: int, max_atoms: int = MAX_ATOMS, draws: int = NULL_DRAWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(τ_t, φ_t), t = 1 … max_atoms, from `draws` dictionaries of m random unit rows in d
    dimensions run through the same pursuit: τ_t the smallest residual energy after t atoms,
    φ_t the largest share f_t one atom removed (module docstring)."""
    rng = np.random.default_rng(seed)
    smallest, largest = np.ones(max_atoms), np.zeros(max_atoms)
    for _ in range(draws):
        energies, _ = pursuit_residuals(rng.normal(size=(m, d)), max_atoms)
        smallest = np.minimum(smallest, energies.min(axis=0))
        largest = np.maximum(largest, explained_fractions(energies).max(axis=0))
    return smallest, largest


def _explaining_atoms(energies, atoms, residual_limit, share_limit) -> list[tuple[int, np.ndarray]]:
    """(row, its first T atoms) for each row some atoms explain beyond chance (module docstring)."""
    explained = energies < residual_limit[None, :]
    significant = explained_fractions(energies) > share_limit[None, :]
    max_atoms = energies.shape[1]
    found = []
    for row in np.flatnonzero(explained.any(axis=1)):
        t = max_atoms - int(np.argmax(explained[row][::-1]))  # the most atoms that jointly explain it
        while t > 1 and not significant[row, t - 1]:  # less the trailing atoms that add nothing
            t -= 1
        found.append((int(row), atoms[row, :t]))
    return found


def explanations(
    decoder: Float[AnyArray, "m d"], live: Bool[AnyArray, " m"], max_atoms: int = MAX_ATOMS, seed: int = 0
) -> list[np.ndarray]:
    """The tiling mode's explanation sets: each live latent with the atoms that explain it
    beyond chance (module docstring), latent indices [1 + T] each.

    Two pursuits per latent: over all other rows, and again without the first pursuit's
    first atom. Why the second: a row whose twin or antipode explains it alone stops the
    first pursuit there, so a tiling by ±u, ±v (or by duplicated tiles) would fall apart
    into lines; without the twin, the pursuit reaches the rest of the span.
    """
    decoder = np.asarray(decoder, np.float64)
    live_index = np.flatnonzero(np.asarray(live, bool))
    if len(live_index) <= max_atoms + 2:
        return []
    unit = _unit(decoder[live_index])
    limits = chance_levels(len(live_index), decoder.shape[1], max_atoms, seed=seed)
    energies, atoms = pursuit_residuals(unit, max_atoms)
    sets = _explaining_atoms(energies, atoms, *limits)
    without_first = np.zeros((len(unit), len(unit)), bool)
    without_first[np.arange(len(unit)), atoms[:, 0]] = True
    energies, atoms = pursuit_residuals(unit, max_atoms, excluded=without_first)
    sets += _explaining_atoms(energies, atoms, *limits)
    return [live_index[np.concatenate([[row], chosen])] for row, chosen in sets]


def link_graph(sets, m: int) -> scipy.sparse.coo_matrix:
    """The graph [m, m] linking the first latent of each set to the others."""
    rows = [s[0] for s in sets for _ in s[1:]]
    cols = [c for s in sets for c in s[1:]]
    return scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))


def cofiring_links(codes: Float[AnyArray, "n m"], alpha: float = ALPHA) -> scipy.sparse.coo_matrix:
    """The span mode's graph [m, m]: pairs that co-fire more than independence allows at
    Bonferroni level α over all live pairs (module docstring)."""
    fires = scipy.sparse.csr_matrix(np.asarray(codes) > 0, dtype=np.float64)
    n, m = fires.shape
    counts = np.asarray(fires.sum(axis=0)).ravel()
    m_live = int(np.sum(counts > 0))
    together = scipy.sparse.triu(fires.T @ fires, k=1).tocoo()
    if m_live < 2 or together.nnz == 0:
        return scipy.sparse.coo_matrix((m, m))
    expected = counts[together.row] * counts[together.col] / n
    p_value = scipy.stats.poisson.sf(together.data - 1, expected)
    keep = p_value < alpha / (m_live * (m_live - 1) / 2)
    return scipy.sparse.coo_matrix((np.ones(keep.sum()), (together.row[keep], together.col[keep])), shape=(m, m))


def components(graph, min_size: int = MIN_GROUP) -> list[np.ndarray]:
    """The latent indices of each connected component with at least min_size latents."""
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    return geometry.groups(labels, min_size)


class Candidate(NamedTuple):
    """One candidate manifold: a latent group, how it was found, and its geometry."""

    latents: np.ndarray  # [|S|]
    found_by: str  # the rule that found it: "tiling", "span", "mixed", or one of them with ", refined in q directions"
    firing: np.ndarray  # [n] bool: samples on which some latent of S fires
    pca: geometry.PCA | None  # of the reconstructions' directions on the firing samples (None under 3 of them)
    dimension: int  # the scree elbow (0 without a PCA)
    points: np.ndarray  # [r, d] those reconstructions' directions (at most MAX_SHAPE_POINTS, evenly thinned)
    shape: topology.Topology | None  # None when shapes were not asked for

    @property
    def subspace(self) -> np.ndarray:
        """The group's principal directions up to its dimension, [max(dimension, 2), d]."""
        return self.pca.components[: max(self.dimension, 2)]


# the spans a refinement tries, in directions: a circle through the origin 2, with an offset 3; a
# sphere or helix 3 or 4; a torus 4 or 5
REFINE_SPANS = (2, 3, 4, 5)
MAX_PRUNED_GROUP = 256  # larger linked groups are grown, not pruned (the pruning costs one SVD per latent)


def row_span(decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], directions: int) -> np.ndarray:
    """The top `directions` right singular vectors of the group's unit decoder rows (uncentred,
    so a shared offset direction comes first), orthonormal rows [≤ directions, d]."""
    unit = _unit(np.asarray(decoder)[np.asarray(latents)])
    if len(unit) == 0:
        return np.zeros((0, np.shape(decoder)[1]))
    _, _, vt = np.linalg.svd(unit, full_matrices=False)
    return vt[:directions]


def refine(decoder: Float[AnyArray, "m d"], live: Bool[AnyArray, " m"], latents: Int[AnyArray, " S"], directions: int = 3) -> np.ndarray:
    """A linked group made consistent with a manifold whose span has the given number of
    directions (`row_span`), by the membership rule of `sae.readers.geometry.on_manifold`
    (≥ ½ of a decoder row's energy in the span), with the span read from the group itself:

    1. prune: a member stays when it holds ≥ ½ of its energy in the span of the *other*
       members (a latent that merely leans towards the manifold's offset does not);
    2. grow: every live latent with ≥ ½ of its energy in the pruned group's span joins (a
       latent that mixes a point of the manifold with an unrelated feature, "Monday" + a
       sparse feature when k = 1 leaves one latent per sample, is too far from any few rows
       to be linked, yet sits mostly in the span).

    The finder tries each span size of REFINE_SPANS: the manifold's dimension, and whether
    it has an offset, are not known in advance.
    """
    latents = np.asarray(latents)
    if len(latents) <= MAX_PRUNED_GROUP:
        keep = [
            j
            for j in range(len(latents))
            if geometry.on_manifold(np.asarray(decoder)[latents[j]][None], row_span(decoder, np.delete(latents, j), directions))[0]
        ]
        latents = latents[keep]
    if len(latents) == 0:
        return latents
    return np.flatnonzero(geometry.on_manifold(decoder, row_span(decoder, latents, directions)) & np.asarray(live, bool))


def describe(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    latents: Int[AnyArray, " S"],
    found_by: str = "",
    shapes: bool = True,
    seed: int = 0,
) -> Candidate:
    """A Candidate for one latent group: its reconstructions, PCA, dimension and (optionally) shape."""
    fitted = geometry.cluster_geometry(codes, decoder, latents)
    if fitted.pca is None:
        return Candidate(np.asarray(latents), found_by, fitted.firing, None, 0, np.zeros((0, np.shape(decoder)[1])), None)
    rows = np.flatnonzero(fitted.firing)
    if len(rows) > MAX_SHAPE_POINTS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_SHAPE_POINTS).astype(int)]
    points = geometry.group_directions(codes, decoder, fitted.latents, rows)
    shape = topology.topology(points, seed=seed) if shapes else None
    return Candidate(fitted.latents, found_by, fitted.firing, fitted.pca, fitted.dimension, points, shape)


def neighbourhoods(graph) -> list[np.ndarray]:
    """Each linked latent with its neighbours in the (undirected) link graph, distinct sets only."""
    graph = scipy.sparse.csr_matrix(graph)
    graph = ((graph + graph.T) > 0).tocsr()
    seen, found = set(), []
    for latent in np.flatnonzero(np.diff(graph.indptr) > 0):
        members = tuple(sorted({latent, *graph.indices[graph.indptr[latent] : graph.indptr[latent + 1]]}))
        if members not in seen:
            seen.add(members)
            found.append(np.asarray(members))
    return found


def candidate_groups(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], live=None, modes=MODES, seed: int = 0, report=None
) -> list[tuple[str, np.ndarray]]:
    """(found by, latents) of every candidate group, distinct sets only (first label kept):

    - each connected component of a link graph ("tiling" or "span");
    - the refinements (`refine`, spans of 2 … 5 directions) of each component and of each
      local group — a latent with the atoms that explain it (`explanations`), or with its
      co-firing partners ("tiling, refined in 3 directions", ...). A component can chain a
      manifold's latents to unrelated ones, whose directions then dominate its span; a
      local group inside the manifold spans the manifold itself;
    - with both modes, the components of the union of both graphs and their refinements
      ("mixed"): a manifold held partly by tiles and partly by a co-firing basis.

    report: optional progress callback report(what, done, total) after each group's refinements
    (`toys.engine.progress.Progress.counter`); the refinements' SVDs are the finder's long phase.
    """
    codes = np.asarray(codes)
    report = report or (lambda what, done, total: None)
    if live is None:
        live = np.any(codes > 0, axis=0)
    found, seen, graphs = [], set(), {}

    def add(latents, label):
        key = tuple(latents)
        if len(latents) >= MIN_GROUP and key not in seen:
            seen.add(key)
            found.append((label, np.asarray(latents)))

    for mode in modes:
        if mode == "tiling":
            local = explanations(decoder, live, seed=seed)
            graph = link_graph(local, len(live))
        elif mode == "span":
            graph = cofiring_links(codes)
            local = neighbourhoods(graph)
        else:
            raise ValueError(f"mode: got {mode!r}, allowed values {', '.join(MODES)}")
        graphs[mode] = graph
        linked = components(graph)
        for group in linked:
            add(group, mode)
        for done, group in enumerate(linked + local, start=1):
            for directions in REFINE_SPANS:
                add(refine(decoder, live, group, directions), f"{mode}, refined in {directions} directions")
            report(f"{mode} groups refined", done, len(linked) + len(local))
    if len(graphs) == 2:
        # a mix: ±u, ±v held as two antipodal pairs (linked as tiles) whose halves co-fire (linked as a span)
        mixed = components(graphs["tiling"] + graphs["span"])
        for done, group in enumerate(mixed, start=1):
            add(group, "mixed")
            for directions in REFINE_SPANS:
                add(refine(decoder, live, group, directions), f"mixed, refined in {directions} directions")
            report("mixed groups refined", done, len(mixed))
    return found


def find_manifolds(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], live=None, modes=MODES, shapes: bool = True, seed: int = 0, report=None
) -> list[Candidate]:
    """Candidate manifolds of a dictionary: latent groups by both modes, each described.

    codes [n, m] (the dictionary's latents on n samples: `sae.pipeline.encode`), decoder
    [m, d]; live [m] bool defaults to the latents that fire on these samples. Candidates
    come in order of mode, then of their smallest latent index; `sae.readers.manifold_ranking.rank`
    orders them by circle evidence, without the truth, and tests the top one against the
    null (`experiments.circle_cells.blind_answer` composes the two).
    """
    return [
        describe(codes, decoder, latents, found_by, shapes, seed)
        for found_by, latents in candidate_groups(codes, decoder, live, modes, seed, report)
    ]
