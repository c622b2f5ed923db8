"""Peak picking on onset envelopes, shared by the beat tracker and the phase doubt (`phase`): a beat a frame
or two off its onset still counts as on it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["peak_near"]

FloatArray = npt.NDArray[np.float64]


def peak_near(env: FloatArray, before: int = 2, after: int = 2) -> FloatArray:
    """Per frame f, the envelope's maximum over frames f-before..f+after (clipped to the envelope)."""
    padded = np.concatenate([np.full(before, -np.inf), env, np.full(after, -np.inf)])
    # A running maximum over the shifted copies: the same values as a sliding window's max, ~10× faster
    # (every track's confidence and each section's pass over the whole envelope go through here).
    n = len(env)
    out = np.asarray(padded[:n], dtype=np.float64).copy()
    for k in range(1, before + after + 1):
        np.maximum(out, padded[k : k + n], out=out)
    return out
