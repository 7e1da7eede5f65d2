"""Shape aliases for the lab's signatures (jaxtyping).

Dimension names, the same in every module: n samples, b batch, d activation dimensions,
m latents, F true features, G dictionaries (or runs) stacked on axis 0. Under a static
checker these aliases read as plain arrays; at run time `tests/test_shapes.py` checks the
public signatures of `sae` and `toys` with jaxtyping's import hook, so a shape written here
that the code does not keep fails a test.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from jaxtyping import Array, ArrayLike, Float, Key, UInt32

OneKey: TypeAlias = Key[Array, ""] | UInt32[Array, "2"]  # one PRNG key, typed (jax.random.key) or raw
Keys: TypeAlias = Key[Array, " G"] | UInt32[Array, "G 2"]  # G PRNG keys, one per stacked run
Samples: TypeAlias = Float[ArrayLike, "n d"] | Float[ArrayLike, "G n d"]  # shared by G dictionaries, or one set each

AnyArray: TypeAlias = np.ndarray | Array  # host (NumPy) or device (JAX) arrays, as readers take them
