"""Mathematical facts behind superposition and sparse dictionaries, each a `Claim` (theory.claims):
a closed-form prediction beside an exact or Monte-Carlo estimator.

- `theory.random_vectors`: inner products of random vectors, coherence, Welch, frames.
- `theory.projections`: the Johnson–Lindenstrauss dimension.
- `theory.sparse_recovery`: the coherence condition for OMP and basis pursuit; Gershgorin.
- `theory.superposition`: feature dimensionality; two features in one dimension.
- `theory.gram`: Procrustes, circulant spectra, circle PCA.
- `theory.circles`: a circle against m equally spaced atoms (the polygon bounds).
- `theory.clock`: the ideal modular-addition clock.
- `theory.absorption`: the exact two-feature absorption toy and the Matryoshka preference condition.
- `theory.compatible`: manifolds reconstructed exactly by sparse nonnegative codes.
- `theory.catalogue`: every claim, in the order `toylab theory` prints them.
"""
