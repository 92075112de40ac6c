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


def partial_pearson(x: Sequence[float], y: Sequence[float], z: Sequence[float]) -> Correlation:
    """Partial r of x and y given z (both residualised on z by least squares).

    The Fisher-z CI and the p-value use n - 1 effective items (one covariate removed), so the
    interval is that of `pearson` on the residuals with one degree of freedom less.
    """
    import numpy as np
    from scipy import stats

    xs, ys, zs = (np.asarray(v, dtype=float) for v in (x, y, z))
    n = len(xs)
    design = np.column_stack([np.ones(n), zs])

    def residual(v):
        coef, *_ = np.linalg.lstsq(design, v, rcond=None)
        return v - design @ coef

    rx, ry = residual(xs), residual(ys)
    nan = float("nan")
    if n < 5 or np.ptp(rx) < 1e-12 or np.ptp(ry) < 1e-12:
        return Correlation(n=n, r=nan, ci_low=nan, ci_high=nan, p_value=nan)
    r = float(np.corrcoef(rx, ry)[0, 1])
    dof = n - 3
    t = r * math.sqrt(dof / max(1e-300, 1 - r * r))
    p = float(2 * stats.t.sf(abs(t), dof))
    z_r, half = math.atanh(max(min(r, 0.999999), -0.999999)), 1.959964 / math.sqrt(n - 4)
    return Correlation(
        n=n, r=r, ci_low=math.tanh(z_r - half), ci_high=math.tanh(z_r + half), p_value=p
    )
