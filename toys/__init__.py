"""Planted structures with known truth, all under one protocol (`toys.protocol`).

A toy is an object with `d` and `sample(key, n) -> Batch(x, codes, truth)`, a JAX
pytree built from a frozen config by `build(config, key)` (which draws its static
truth: feature directions, planes, the tree). Network toys share one shape:
`train(task, keys, runtime) → network`, then `layer(network, name, index=0)` → a toy of that
layer's activations (`toys.network_training`); `toys.stored.StoredToy` also wraps a user's
own arrays.

- `toys.protocol`: `Batch`, the `Toy` protocol, `PlantedDirections` (feature toys).
- `toys.stored`: a toy from stored arrays (in memory or a memory-mapped `.npy`).
- `toys.superposition`: sparse features stored as directions in superposition.
- `toys.tms`: the Toy Models of Superposition ReLU output model (a trained network).
- `toys.manifolds`: circles (days, months), multi-frequency circles, helices, tori, spheres.
- `toys.trees`: hierarchical parent → child features (and the exact two-feature absorption toy).
- `toys.modular`: an MLP trained on a + b mod p and the Fourier circles read from it.
- `toys.circuits`: random boolean circuits and an MLP emulating them.
- `toys.quanta`: multitask sparse parity and per-example gradients.
- `toys.semantic`: distributions in a semantic space, a region concept, a ReLU classifier.
- `toys.network_training`: the one training loop of the toy networks and the NNX helpers.
"""
