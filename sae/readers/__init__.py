"""Readers: what is read out of activations, a dictionary and its codes — apart from training.

Every public function here is on one side of the wall (`sae.readers.wall`), declared below:

- **methods** (`METHODS`) run as they would on a real model: they receive activations, a
  dictionary (its decoder rows, [m, d]) and its codes ([n, m]) — what `wall.observe` builds
  from a sample's `x` alone — and their own settings; never the truth. Called
  `method(codes, decoder, …settings)` or on points / codes alone.
- **graders** (`GRADERS`) receive a method's answer and the truth (planted planes, phases,
  true features, labels, the planted tree) and score it.
- **shared arithmetic** (`SHARED`): definitions both sides use (a PCA, principal angles, a
  cosine matrix, a reconstruction), which take no truth themselves.

`tests/test_readers.py` checks the declaration: every public function is declared once.
Where a method's inputs come from is checked at the call, not by its parameter names: the
methods that find structure (`FINDERS`) are called from a study only through `wall.apply`
(an observation made by `wall.observe*`, settings from the config) or `wall.ceiling` (the truth
used on purpose, and named); `tests/test_wall.py` checks every call site and runs the
counterparts, and `TOYLAB_WALL=audit` runs each call again behind the process wall.

Modules: `manifold_finder` (candidate groups), `manifold_ranking` (their blind ranking),
`manifold_grading` (the graders of both), `projection_circles` (rings in
2-D projections of a group), `geometry` (PCA geometry of groups, circle
matching), `topology` (persistent homology, shape names), `clustering` (spectral
clustering, blind K, QDG), `detectors` (probes and unit AUROCs), `folding` (ReLU regions,
separability), `grid_latents` (modular latents' categories), `hierarchy` (tree inference
and its scores), `knockoff` (placements of a dictionary's rows), `feature_map` (neighbour structure of a
dictionary's placement against its nulls, UMAP maps), `wall`.
"""

from sae.readers import (
    clustering,
    detectors,
    feature_map,
    folding,
    geometry,
    grid_latents,
    hierarchy,
    knockoff,
    manifold_finder,
    manifold_grading,
    manifold_ranking,
    projection_circles,
    topology,
    wall,
)

METHODS = (
    manifold_finder.find_manifolds,
    manifold_finder.candidate_groups,
    manifold_finder.describe,
    manifold_finder.explanations,
    manifold_finder.cofiring_links,
    manifold_finder.refine,
    manifold_finder.pursuit_residuals,
    manifold_finder.chance_levels,
    manifold_ranking.rank,
    manifold_ranking.circle_evidence,
    manifold_ranking.span_concentration,
    manifold_ranking.p_value,
    manifold_ranking.claimed,
    manifold_ranking.seam,
    manifold_ranking.latent_places,
    manifold_ranking.find_and_rank,
    projection_circles.blind_planes,
    knockoff.claimed_circle_groups,
    projection_circles.ring_planes,
    projection_circles.group_points,
    projection_circles.spread,
    projection_circles.descend,
    projection_circles.ring_quadric,
    topology.topology,
    topology.persistence_statistics,
    topology.calibrate_null_thresholds,
    clustering.cluster,
    clustering.cluster_blind,
    clustering.qdg,
    clustering.eigengap_k,
    clustering.qdg_affinities,
    clustering.qdg_sweep,
    clustering.silhouette_k,
    clustering.affinity_sweep,
    clustering.affinity_clustering,
    geometry.cluster_geometry,
    geometry.project_points,
    geometry.cluster_plane_points,
    geometry.circle_centre,
    grid_latents.categorise,
    grid_latents.counts,
    grid_latents.slice_widths,
    grid_latents.tiling,
    hierarchy.cofiring_distance,
    knockoff.random_placement,
    knockoff.correlation_placement,
    knockoff.group_coordinates_placement,
    knockoff.describe_circle,
    knockoff.described_placement,
    knockoff.place,
    knockoff.describe_ring,
    knockoff.coordinate_groups,
    knockoff.projection_placement,
    folding.line_regions,
    folding.line_regions_brute,
    folding.gradient_turning,
    wall.observe,
    wall.observe_grid,
    wall.observe_chance,
    wall.observe_derived,
    feature_map.placement_verdict,
    feature_map.structure_test,
    feature_map.umap_embedding,
)

GRADERS = (
    manifold_grading.is_found,
    manifold_grading.grade_ranking,
    manifold_grading.unmatched_claims,
    manifold_grading.false_claim,
    manifold_grading.wrong_plane,
    manifold_grading.oracle_group,
    manifold_grading.score_circle,
    manifold_grading.frequency_of_plane,
    geometry.match_circle,
    geometry.in_plane_error,
    geometry.value_labels,
    geometry.cyclic_order,
    geometry.rank_circular_correlation,
    geometry.circular_correlation,
    geometry.ordering_score,
    geometry.on_manifold,
    geometry.group_angles,
    clustering.scores,
    clustering.confusion,
    detectors.auroc,
    detectors.best_unit_auroc,
    detectors.probe_accuracy,
    detectors.held_out,
    folding.linearly_separable,
    folding.squashed_share,
    folding.class_spread,
    hierarchy.tree_similarity,
    hierarchy.edge_recall,
    hierarchy.edge_precision,
    hierarchy.tree_scores,
    hierarchy.assign,
    hierarchy.splitting_parents,
    hierarchy.representatives,
    hierarchy.linkage_parents,
)

SHARED = (
    geometry.cosine_matrix,
    geometry.pca,
    geometry.zhu_ghodsi_elbow,
    geometry.principal_angles_deg,
    geometry.group_directions,
    geometry.groups,
    clustering.standardise,
    clustering.cosine_similarity,
    clustering.unit_rows,
    manifold_finder.explained_fractions,
    manifold_finder.link_graph,
    manifold_finder.components,
    manifold_finder.row_span,
    manifold_finder.neighbourhoods,
    manifold_grading.random_plane,
    manifold_grading.rate,
    manifold_grading.count_rate,
    manifold_grading.co_active,
    manifold_grading.mode_of,
    manifold_ranking.claim_threshold,
    manifold_ranking.threshold_interval,
    manifold_ranking.stored_strata,
    manifold_ranking.stratum_tops,
    manifold_ranking.stored_null,
    manifold_ranking.nearest_null,
    topology.shape_name,
    topology.null_cloud,
    hierarchy.clusters,
    detectors.linear_probe,
    detectors.region_detector,
    knockoff.reconstruction,
    grid_latents.correlation_ratio,
    grid_latents.group_rates,
    grid_latents.is_arc,
    wall.sealed,
    wall.flatten_answer,
    wall.storable,
    wall.run_isolated,
    wall.settings,
    wall.apply,
    wall.ceiling,
    wall.audit_mode,
    clustering.affinity,
    clustering.sweep_counts,
    feature_map.check_rows,
    feature_map.neighbours,
    feature_map.neighbour_clustering,
    feature_map.neighbour_overlap,
)

# The methods that find structure, whose answers are graded: a study calls them only through the wall's
# one road (`wall.apply`: an observation and settings from the config) or, with the truth named,
# `wall.ceiling` (tests/test_wall.py checks every call site in experiments/).
FINDERS = (
    manifold_finder.find_manifolds,
    manifold_finder.candidate_groups,
    manifold_ranking.rank,
    manifold_ranking.find_and_rank,
    projection_circles.ring_planes,
    projection_circles.blind_planes,
    knockoff.claimed_circle_groups,
    knockoff.coordinate_groups,
    clustering.cluster,
    clustering.cluster_blind,
    clustering.qdg,
    clustering.qdg_sweep,
    clustering.silhouette_k,
    clustering.affinity_sweep,
    clustering.affinity_clustering,
    grid_latents.categorise,
    feature_map.placement_verdict,
)
assert set(FINDERS) <= set(METHODS)
