"""Vectorised resampling statistics for correlations: bootstrap, permutation, Fisher z.

A bootstrap resample is a row of item indices; all rows live in one `[n_boot, n]` integer array.
Each row is turned into per-item counts (how often each item was drawn), so the moments every
correlation needs (sums of x, y, x^2, y^2, xy) are one matrix product `counts @ columns` for all
resamples and all models at once. Spearman's rho needs the ranks *within* each resample; they
follow from the counts too (an item's average rank is the count of smaller values plus half its
tie block). The result is identical (to rounding) to indexing `x[idx]` and calling scipy per
resample, which `benchmarks/behaviour.py` checks while timing both.

Conventions (documented in the report):
- Confidence intervals are percentile bootstrap intervals (2.5th and 97.5th percentiles of the
  resampled statistic for 95%); resamples where a variable is constant (correlation undefined)
  are left out and counted.
- Permutation p-values are two-sided on |statistic| with the +1 correction,
  p = (1 + #{|null| >= |observed|}) / (1 + n_perm); when n! <= n_perm all permutations are
  enumerated and p is exact (no correction needed: the identity is among them).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
from jaxtyping import Float, Int
from scipy.stats import rankdata

# Resample chunk size in array elements (rows x items): bounds memory at about 32 MB per array.
DEFAULT_MAX_ELEMENTS = 1 << 22
# Relative variance below which a resample counts as constant (correlation undefined).
_DEGENERATE = 1e-10
# Ties between |null| and |observed| within this tolerance count as "at least as extreme".
_TIE_TOL = 1e-12


def bootstrap_indices(rng: np.random.Generator, n_boot: int, n: int) -> Int[np.ndarray, "boot n"]:
    """Item indices of `n_boot` bootstrap resamples of `n` items (one row per resample)."""
    return rng.integers(0, n, size=(n_boot, n))


def permutation_indices(rng: np.random.Generator, n_perm: int, n: int) -> Int[np.ndarray, "perm n"]:
    """`n_perm` random permutations of `n` items (one row each)."""
    return rng.permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1)


def all_permutations(n: int) -> Int[np.ndarray, "perm n"]:
    """Every permutation of `n` items (n! rows), for exact permutation tests on small n."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(-1, n)


def chunk_rows(n_rows: int, n: int, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Iterator[slice]:
    """Row slices so that each chunk of a `[n_rows, n]` array holds at most `max_elements`."""
    step = max(1, max_elements // max(n, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def resample_counts(indices: Int[np.ndarray, "b n"], n: int) -> Float[np.ndarray, "b n"]:
    """How often each item appears in each resample (the bootstrap weights)."""
    b = indices.shape[0]
    offsets = (np.arange(b, dtype=np.int64) * n)[:, None]
    flat = np.bincount((indices + offsets).ravel(), minlength=b * n)
    return flat.reshape(b, n).astype(np.float64)


def zscore(values: Float[np.ndarray, "n ..."]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z-scores along axis 0 with ddof=0, mean, sd); sd 0 gives z = 0 (a constant variable)."""
    mean = values.mean(axis=0)
    sd = values.std(axis=0)
    safe = np.where(sd > 0, sd, 1.0)
    return (values - mean) / safe, mean, sd


def is_constant(values: Float[np.ndarray, " n"]) -> bool:
    """True when a variable has no spread (its correlation with anything is undefined)."""
    values = np.asarray(values, dtype=np.float64)
    return bool(np.ptp(values) <= 1e-12 * max(1.0, float(np.max(np.abs(values)))))


def pearson(x: Float[np.ndarray, "n ..."], y: Float[np.ndarray, " n"]) -> np.ndarray:
    """Pearson r of each column of `x` with `y` (NaN when either is constant)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xz, _, sx = zscore(x)
    yz, _, sy = zscore(y)
    r = np.tensordot(yz, xz, axes=(0, 0)) / len(y)
    r = np.clip(r, -1.0, 1.0)
    return np.where((sx > 0) & (sy > 0), r, np.nan)


def ranks(values: Float[np.ndarray, "n ..."]) -> np.ndarray:
    """Average ranks (1-based, ties averaged) along axis 0, as spearmanr uses."""
    return rankdata(values, axis=0, method="average")


def spearman(x: Float[np.ndarray, "n ..."], y: Float[np.ndarray, " n"]) -> np.ndarray:
    """Spearman rho of each column of `x` with `y` (Pearson r of the average ranks)."""
    return pearson(ranks(np.asarray(x, dtype=np.float64)), ranks(np.asarray(y, dtype=np.float64)))


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


def permutation_p(null: np.ndarray, observed: np.ndarray, *, exact: bool = False) -> np.ndarray:
    """Two-sided p on |statistic| along axis 0; +1 corrected unless `null` enumerates all perms."""
    observed = np.asarray(observed, dtype=np.float64)
    hits = np.sum(np.abs(null) >= np.abs(observed) - _TIE_TOL, axis=0)
    valid = np.sum(np.isfinite(null), axis=0)
    p = hits / valid if exact else (hits + 1.0) / (valid + 1.0)
    return np.where(np.isfinite(observed), p, np.nan)


def bootstrap_p(deltas: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p for 'statistic = 0' (twice the smaller tail, +1 corrected), axis 0."""
    valid = np.sum(np.isfinite(deltas), axis=0)
    below = np.sum(deltas <= 0, axis=0)
    above = np.sum(deltas >= 0, axis=0)
    p = 2.0 * (np.minimum(below, above) + 1.0) / (valid + 1.0)
    return np.minimum(p, 1.0)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring NaN (undefined) resamples."""
    tail = (1.0 - level) / 2.0 * 100.0
    finite = np.isfinite(samples)
    if not finite.any():
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan
    with np.errstate(invalid="ignore"):
        low, high = np.nanpercentile(samples, [tail, 100.0 - tail], axis=0)
    return low, high


def fisher_mean(r: np.ndarray, axis: int = 0) -> np.ndarray:
    """tanh of the mean Fisher z = arctanh(r) along `axis` (r = +-1 clipped to +-(1 - 1e-12))."""
    z = np.arctanh(np.clip(r, -1.0 + 1e-12, 1.0 - 1e-12))
    return np.tanh(np.mean(z, axis=axis))


def can_enumerate(n: int, n_perm: int) -> bool:
    """Exact permutation tests are used when all n! permutations fit in the permutation budget."""
    return n <= 10 and math.factorial(n) <= n_perm
