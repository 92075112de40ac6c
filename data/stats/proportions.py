"""Confidence intervals of proportions (accuracy, parse rate)."""

from __future__ import annotations

import math

from scipy.stats import norm


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of successes / n (no continuity correction); NaNs for n = 0.

    (p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n), z the normal quantile.
    Unlike the Wald interval it stays inside [0, 1] and is not degenerate at 0 or n successes.
    """
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    z = float(norm.ppf(0.5 + level / 2.0))
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)
