"""Mathematical facts behind superposition and sparse dictionaries, as pure functions on arrays.

- `theory.superposition`: feature dimensionality D_i and its tight-frame values.
- `theory.circles`: a circle against m equally spaced atoms (the polygon bounds).
- `theory.absorption`: the exact two-feature absorption toy and the Matryoshka preference condition.
"""
