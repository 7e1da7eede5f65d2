"""PyTorch's CPU random streams, reproduced in NumPy (no torch needed).

SAELens builds a synthetic model from its config with `torch.Generator().manual_seed(s)`
draws (the dictionary, the bias, the correlation factor, per-feature magnitudes), and
re-draws some of them when it loads a model file (the per-feature magnitudes are not
stored). To read a SAELens model file as SAELens reads it, and to build the same model
from a config, toylab reproduces those streams:

- the engine is MT19937 seeded with `init_genrand(seed)`, which is what NumPy's legacy
  seeding does, so the raw 32-bit words are NumPy's;
- a float32 uniform is `(word & (2²⁴ − 1)) · 2⁻²⁴`;
- `randn` of n ≥ 16 float32 values (`normal_fill`) draws n uniforms, then turns each block
  of 16 by Box–Muller: for j < 8, u₁ = 1 − v_j, u₂ = v_{j+8},
  r = √(−2 log u₁), θ = 2π u₂, out_j = r cos θ, out_{j+8} = r sin θ; when 16 ∤ n the last
  16 values are redrawn from 16 fresh uniforms and transformed again;
- `randn` of n < 16 values draws one standard normal at a time from two float64
  uniforms (53-bit words): r = √(−2 log(1 − u₂)), θ = 2π u₁, out = r cos θ, keeping
  r sin θ for the next scalar normal.

torch computes the transcendental functions in float32 (vectorised), NumPy here in
float64 then rounds, so values agree to a few float32 ulps, not bit for bit.
"""

from __future__ import annotations

import numpy as np


class TorchGenerator:
    """A CPU `torch.Generator().manual_seed(seed)` (float32 `randn`, `rand`)."""

    def __init__(self, seed: int):
        self._bits = np.random.MT19937(0)
        self._bits._legacy_seeding(int(seed) & 0xFFFFFFFF)
        self._cached_normal: float | None = None

    def _words(self, n: int) -> np.ndarray:
        return self._bits.random_raw(n).astype(np.uint64)

    def rand(self, n: int) -> np.ndarray:
        """`torch.rand(n, generator=g)` in float32 (24-bit uniforms in [0, 1))."""
        return ((self._words(n) & np.uint64((1 << 24) - 1)).astype(np.float64) * 2.0**-24).astype(np.float32)

    def _uniform64(self) -> float:
        hi_lo = self._words(2)  # random64() = two 32-bit words, the first high
        word = (int(hi_lo[0]) << 32) | int(hi_lo[1])
        return (word & ((1 << 53) - 1)) * 2.0**-53

    def _scalar_normal(self) -> float:
        if self._cached_normal is not None:
            value, self._cached_normal = self._cached_normal, None
            return value
        u1 = self._uniform64()
        u2 = self._uniform64()
        radius = np.sqrt(-2.0 * np.log1p(-u2))
        theta = 2.0 * np.pi * u1
        self._cached_normal = float(radius * np.sin(theta))
        return float(radius * np.cos(theta))

    def randn(self, *shape: int) -> np.ndarray:
        """`torch.randn(*shape, generator=g)` in float32."""
        n = int(np.prod(shape))
        if n < 16:
            return np.array([self._scalar_normal() for _ in range(n)], np.float32).reshape(shape)
        data = self.rand(n).astype(np.float64)
        full = (n // 16) * 16
        out = data.copy()
        out[:full] = _box_muller_blocks(data[:full])
        if n % 16:
            out[n - 16 :] = _box_muller_blocks(self.rand(16).astype(np.float64))
        return out.astype(np.float32).reshape(shape)


def _box_muller_blocks(uniforms: np.ndarray) -> np.ndarray:
    """torch's `normal_fill_16` over consecutive blocks of 16 uniforms."""
    blocks = uniforms.astype(np.float32).astype(np.float64).reshape(-1, 16)
    u1, u2 = 1.0 - blocks[:, :8], blocks[:, 8:]
    radius = np.sqrt(-2.0 * np.log(u1))
    theta = 2.0 * np.pi * u2
    return np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1).reshape(-1)
