"""Linear centred kernel alignment (CKA) between two models' activations on the same items.

Plain (biased) linear CKA of Kornblith et al. 2019: with column-centred X and Y,
CKA = ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), computed through n x n Gram matrices when items are
fewer than features. It is invariant to rotations and isotropic scaling, so it compares models of
different widths. The biased estimator is used because the debiased one can go negative on the
small item sets the organism has; report n alongside it.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

Array = np.ndarray


def centred_gram(x: Float[Array, "n d"]) -> Float[Array, "n n"]:
    """Gram matrix of column-centred features (float64)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    return x @ x.T


def linear_cka(x: Float[Array, "n d1"], y: Float[Array, "n d2"]) -> float:
    """Linear CKA between two representations of the same n items (1 = identical up to rotation/scale)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same items: {x.shape[0]} vs {y.shape[0]} rows")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        k, l_ = x @ x.T, y @ y.T
        cross, self_x, self_y = (k * l_).sum(), (k * k).sum(), (l_ * l_).sum()
    else:
        cross = float(np.square(y.T @ x).sum())
        self_x = float(np.square(x.T @ x).sum())
        self_y = float(np.square(y.T @ y).sum())
    denom = np.sqrt(self_x * self_y)
    return float(cross / denom) if denom > 0 else float("nan")
