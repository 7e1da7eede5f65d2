"""Planted structures with known truth. A toy is a frozen config plus pure functions:
`build(config, key)` draws its static truth, `sample(toy, key, n)` returns activations
and the truth for those samples.

- `toys.superposition`: sparse features stored as directions in superposition.
- `toys.tms`: the Toy Models of Superposition ReLU output model (a trained network).
- `toys.manifolds`: circles (days, months), multi-frequency circles, helices, tori, spheres.
- `toys.trees`: hierarchical parent → child features (and the exact two-feature absorption toy).
- `toys.modular`: an MLP trained on a + b mod p and the Fourier circles read from it.
"""
