"""Correlation with a bootstrap CI and a permutation p, vectorised over resamples.

The report computes one statistic of its own (attention entropy vs human difficulty), and every
correlation it prints carries n, a 95% CI and a p-value like the behavioural ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from mimicry.experiments.behaviour.stats import (
    bootstrap_indices,
    centered_moments,
    correlation_from_moments,
    pearson,
    percentile_ci,
    permutation_indices,
    permutation_null,
    permutation_p,
    resample_counts,
)


@dataclass(frozen=True)
class Correlation:
    """Pearson r with a percentile bootstrap CI over items and a two-sided permutation p."""

    n: int
    r: float
    ci_low: float
    ci_high: float
    p_value: float


def _bootstrap_r(x: Float[np.ndarray, " n"], y: Float[np.ndarray, " n"], indices) -> np.ndarray:
    """Pearson r of every bootstrap resample (NaN where one side is constant in it)."""
    counts = resample_counts(indices, len(x))
    sw, sxx, syy, sxy = centered_moments(counts, x[:, None], y)
    return correlation_from_moments(sw, sxx, syy, sxy, x.std(), y.std())[:, 0]


def pearson_with_ci(
    x: np.ndarray, y: np.ndarray, *, n_boot: int, n_perm: int, seed: int
) -> Correlation:
    """Pearson r of `x` and `y`, bootstrap 95% CI (items resampled), permutation p (+1 corrected).

    Built from the behavioural statistics (`experiments.behaviour.stats`), so every r in the
    report is computed, resampled and tested the same way.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n < 3:
        return Correlation(n, float("nan"), float("nan"), float("nan"), float("nan"))
    r = float(pearson(x, y))
    rng = np.random.default_rng(seed)
    index = bootstrap_indices(rng, n_boot, n)
    low, high = percentile_ci(_bootstrap_r(x, y, index))
    null = permutation_null(x[:, None], y, permutation_indices(rng, n_perm, n))
    p_value = float(permutation_p(null, np.array([r]))[0]) if np.isfinite(r) else float("nan")
    return Correlation(n, r, float(low), float(high), p_value)
