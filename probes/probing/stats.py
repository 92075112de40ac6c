"""Uncertainty for probe scores: bootstrap CIs over items and permutation p-values."""

from __future__ import annotations

import numpy as np

from mimicry.probes.probing.metrics import score


def bootstrap_ci(
    metric: str,
    y: np.ndarray,
    preds: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    n_classes: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile CI of a held-out score, resampling items with replacement.

    `y` and `preds` may hold several columns ([n, k]: e.g. several control tasks); each resample
    uses the same items for all columns and the CI is of their mean score.
    """
    if n_boot <= 0:
        return float("nan"), float("nan")
    y = np.asarray(y)
    preds = np.asarray(preds)
    if y.ndim == 1:
        y, preds = y[:, None], preds[:, None]
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    index = rng.integers(0, n, size=(n_boot, n))
    values = np.stack(
        [score(metric, y[index, k], preds[index, k], n_classes) for k in range(y.shape[1])]
    ).mean(axis=0)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def permutation_p(observed: float, null_scores: np.ndarray) -> float:
    """One-sided p = (1 + #null >= observed) / (1 + #null); NaN without a null."""
    null_scores = np.asarray(null_scores, dtype=float)
    null_scores = null_scores[np.isfinite(null_scores)]
    if len(null_scores) == 0 or not np.isfinite(observed):
        return float("nan")
    return float((1 + np.sum(null_scores >= observed)) / (1 + len(null_scores)))


def permute_within(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An index permutation that only shuffles items within the same stratum (task)."""
    strata = np.asarray(strata)
    order = np.arange(len(strata))
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        order[members] = rng.permutation(members)
    return order


def permutation_matrix(strata: np.ndarray, n_perm: int, seed: int) -> np.ndarray:
    """[n_perm, n] index permutations within strata, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    return (
        np.stack([permute_within(strata, rng) for _ in range(n_perm)])
        if n_perm
        else (np.zeros((0, len(strata)), dtype=int))
    )
