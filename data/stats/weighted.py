"""Correlations of many resamples at once: weighted moments, weighted ranks, permutation nulls.

A bootstrap resample is turned into per-item counts (how often each item was drawn), so the
moments every correlation needs (sums of x, y, x^2, y^2, xy) are one matrix product
`counts @ columns` for all resamples and all columns at once. Spearman's rho needs the ranks
*within* each resample; they follow from the counts too (an item's average rank is the count of
smaller values plus half its tie block). The result equals (to rounding) indexing `x[idx]` and
calling scipy per resample, which `benchmarks/behaviour.py` checks while timing both.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int

from mimicry.data.stats.resampling import DEFAULT_MAX_ELEMENTS, chunk_rows

# Relative variance below which a resample counts as constant (correlation undefined).
_DEGENERATE = 1e-10


def zscore(values: Float[np.ndarray, "n ..."]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z-scores along axis 0 with ddof=0, mean, sd); sd 0 gives z = 0 (a constant variable)."""
    mean = values.mean(axis=0)
    sd = values.std(axis=0)
    safe = np.where(sd > 0, sd, 1.0)
    return (values - mean) / safe, mean, sd


def centered_moments(
    counts: Float[np.ndarray, "b n"],
    x: Float[np.ndarray, "n m"],
    y: Float[np.ndarray, " n"],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted centered sums for every resample and column, from one matrix product.

    Returns (sw [b], sxx [b, m], syy [b], sxy [b, m]): the resample size and the centered sums of
    squares and cross-products, in the units of `x` and `y`. Inputs are standardised first so the
    one-pass formulas lose no precision.
    """
    xz, _, sdx = zscore(x)
    yz, _, sdy = zscore(y)
    m = x.shape[1]
    columns = np.concatenate(
        [np.ones((len(y), 1)), yz[:, None], (yz**2)[:, None], xz, xz**2, xz * yz[:, None]], axis=1
    )
    sums = counts @ columns
    sw, sy, syy = sums[:, 0], sums[:, 1], sums[:, 2]
    sx, sxx, sxy = sums[:, 3 : 3 + m], sums[:, 3 + m : 3 + 2 * m], sums[:, 3 + 2 * m :]
    c_yy = (syy - sy**2 / sw) * sdy**2
    c_xx = (sxx - sx**2 / sw[:, None]) * sdx**2
    c_xy = (sxy - sx * sy[:, None] / sw[:, None]) * sdx * sdy
    return sw, c_xx, c_yy, c_xy


def correlation_from_moments(
    sw: np.ndarray, sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray, scale_x, scale_y
) -> np.ndarray:
    """r = sxy / sqrt(sxx syy); NaN where a variable is constant within the resample."""
    sw_ = sw[:, None] if sxx.ndim == 2 else sw
    syy_ = syy[:, None] if sxx.ndim == 2 else syy
    valid = (sxx > _DEGENERATE * sw_ * np.square(scale_x)) & (
        syy_ > _DEGENERATE * sw_ * np.square(scale_y)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy_)
    return np.where(valid, np.clip(r, -1.0, 1.0), np.nan)


def weighted_ranks(
    counts: Float[np.ndarray, "b n"], values: Float[np.ndarray, " n"]
) -> Float[np.ndarray, "b n"]:
    """Average rank each item takes within each resample (items with count 0 get any value).

    An item drawn w times ties with itself: its rank is (weight of strictly smaller values) +
    (weight of its tie block + 1) / 2, exactly what rankdata gives on the resampled vector.
    """
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    new_block = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    w_sorted = counts[:, order]
    if new_block.all():
        block_w = w_sorted
        rank_sorted = np.cumsum(block_w, axis=1) - block_w + (block_w + 1.0) / 2.0
    else:
        starts = np.flatnonzero(new_block)
        block_w = np.add.reduceat(w_sorted, starts, axis=1)
        block_rank = np.cumsum(block_w, axis=1) - block_w + (block_w + 1.0) / 2.0
        rank_sorted = block_rank[:, np.cumsum(new_block) - 1]
    out = np.empty_like(rank_sorted)
    out[:, order] = rank_sorted
    return out


def weighted_spearman(
    counts: Float[np.ndarray, "b n"],
    x: Float[np.ndarray, "n m"],
    y: Float[np.ndarray, " n"],
) -> Float[np.ndarray, "b m"]:
    """Spearman rho of each column of `x` with `y` within each resample given by `counts`."""
    sw = counts.sum(axis=1)
    mid = (sw[:, None] + 1.0) / 2.0  # mean rank of a resample of size sw
    ry = weighted_ranks(counts, y) - mid
    wy = counts * ry
    syy = np.einsum("bn,bn->b", wy, ry)
    out = np.empty((counts.shape[0], x.shape[1]))
    for j in range(x.shape[1]):
        rx = weighted_ranks(counts, x[:, j]) - mid
        sxx = np.einsum("bn,bn->b", counts * rx, rx)
        sxy = np.einsum("bn,bn->b", wy, rx)
        out[:, j] = correlation_from_moments(sw, sxx, syy, sxy, 1.0, 1.0)
    return out


def permutation_null(
    x: Float[np.ndarray, "n m"],
    y: Float[np.ndarray, " n"],
    perms: Int[np.ndarray, "p n"],
    *,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> Float[np.ndarray, "p m"]:
    """Pearson r of each column of `x` with `y[perm]` for every permutation row.

    Means and sums of squares do not change under permutation, so each null value is a dot
    product of z-scores: one gather of `y` and one matrix product per chunk.
    """
    xz, _, _ = zscore(np.asarray(x, dtype=np.float64))
    yz, _, _ = zscore(np.asarray(y, dtype=np.float64))
    n = len(yz)
    out = np.empty((perms.shape[0], xz.shape[1]))
    for rows in chunk_rows(perms.shape[0], n, max_elements):
        out[rows] = yz[perms[rows]] @ xz / n
    return np.clip(out, -1.0, 1.0)
