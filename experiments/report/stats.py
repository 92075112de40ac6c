"""Correlation with a bootstrap CI and a permutation p, vectorised over resamples.

The report computes one statistic of its own (attention entropy vs human difficulty), and every
correlation it prints carries n, a 95% CI and a p-value like the behavioural ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float


@dataclass(frozen=True)
class Correlation:
    """Pearson r with a percentile bootstrap CI over items and a two-sided permutation p."""

    n: int
    r: float
    ci_low: float
    ci_high: float
    p_value: float


def _rows_pearson(x: Float[np.ndarray, "b n"], y: Float[np.ndarray, "b n"]) -> np.ndarray:
    """Pearson r of each row pair (NaN where a row is constant)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=1) / denominator


def pearson_with_ci(
    x: np.ndarray, y: np.ndarray, *, n_boot: int, n_perm: int, seed: int
) -> Correlation:
    """Pearson r of `x` and `y`, bootstrap 95% CI (items resampled), permutation p (+1 corrected)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n < 3:
        return Correlation(n, float("nan"), float("nan"), float("nan"), float("nan"))
    r = float(_rows_pearson(x[None], y[None])[0])
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(n_boot, n))
    boot = _rows_pearson(x[index], y[index])
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [0.025, 0.975]) if len(boot) else (np.nan, np.nan)
    perm = np.argsort(rng.random((n_perm, n)), axis=1)
    null = _rows_pearson(np.broadcast_to(x, (n_perm, n)), y[perm])
    exceed = np.sum(np.abs(null) >= abs(r) - 1e-12) if np.isfinite(r) else n_perm
    p_value = float((exceed + 1) / (n_perm + 1))
    return Correlation(n, r, float(low), float(high), p_value)
