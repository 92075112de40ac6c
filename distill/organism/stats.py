"""Pearson correlation with a Fisher-z 95% CI and its p-value, the form every reported r takes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Correlation:
    """Pearson r between two variables over `n` items; NaN when undefined (n < 4 or a constant)."""

    n: int
    r: float
    ci_low: float
    ci_high: float
    p_value: float

    def as_dict(self, prefix: str) -> dict:
        """Fields renamed `<prefix>_r`, `<prefix>_ci_low`, ... for a flat table row."""
        return {f"{prefix}_{key}": value for key, value in asdict(self).items()}


def pearson(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Pearson r, Fisher-z 95% CI, two-sided p (scipy); NaN when either side is constant."""
    import numpy as np
    from scipy import stats

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(xs)
    if n < 4 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        nan = float("nan")
        return Correlation(n=n, r=nan, ci_low=nan, ci_high=nan, p_value=nan)
    result = stats.pearsonr(xs, ys)
    r = float(result.statistic)
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), 1.959964 / math.sqrt(n - 3)
    return Correlation(
        n=n,
        r=r,
        ci_low=math.tanh(z - half),
        ci_high=math.tanh(z + half),
        p_value=float(result.pvalue),
    )
