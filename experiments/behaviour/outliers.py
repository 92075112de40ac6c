"""Cook's distance for the simple regression cost ~ difficulty (the `--outliers cooks` rule)."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float


def cooks_distance(
    difficulty: Float[np.ndarray, " n"], cost: Float[np.ndarray, " n"]
) -> Float[np.ndarray, " n"]:
    """Cook's D of each item in the OLS fit of cost on difficulty (intercept + slope, p = 2).

    D_i = e_i^2 / (p s^2) * h_i / (1 - h_i)^2 with leverage h_i = 1/n + (x_i - mean x)^2 / Sxx
    and s^2 = sum e^2 / (n - p). A perfect fit (s^2 = 0) has no influential points: all zeros.
    """
    x = np.asarray(difficulty, dtype=np.float64)
    y = np.asarray(cost, dtype=np.float64)
    n = len(x)
    xc = x - x.mean()
    sxx = xc @ xc
    slope = (xc @ (y - y.mean())) / sxx
    residual = y - y.mean() - slope * xc
    s2 = residual @ residual / (n - 2)
    if s2 <= 1e-24 * max(1.0, float(y @ y)):
        return np.zeros(n)
    leverage = 1.0 / n + xc**2 / sxx
    return residual**2 / (2.0 * s2) * leverage / (1.0 - leverage) ** 2


def cooks_outliers(difficulty: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Boolean mask of items with Cook's D > 4 / n (a common rule of thumb), one pass."""
    n = len(cost)
    return cooks_distance(difficulty, cost) > 4.0 / n
