"""Resampling: bootstrap and permutation draws, percentile CIs, permutation and bootstrap p.

A resample is a row of item indices; all rows live in one `[rows, n]` integer array drawn from one
seeded generator, so models analysed on the same items can share them (paired comparisons) and a
re-run draws the same rows. The conventions are stated once in `mimicry.data.stats`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from jaxtyping import Float, Int

# Resample chunk size in array elements (rows x items): bounds memory at about 32 MB per array.
DEFAULT_MAX_ELEMENTS = 1 << 22
# Null values within this tolerance of the observed statistic count as "at least as extreme".
TIE_TOL = 1e-12

Alternative = Literal["two-sided", "greater", "less"]


def bootstrap_indices(rng: np.random.Generator, n_boot: int, n: int) -> Int[np.ndarray, "boot n"]:
    """Item indices of `n_boot` bootstrap resamples of `n` items (one row per resample)."""
    return rng.integers(0, n, size=(n_boot, n))


def permutation_indices(rng: np.random.Generator, n_perm: int, n: int) -> Int[np.ndarray, "perm n"]:
    """`n_perm` random permutations of `n` items (one row each)."""
    return rng.permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1)


def all_permutations(n: int) -> Int[np.ndarray, "perm n"]:
    """Every permutation of `n` items (n! rows), for exact permutation tests on small n."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(-1, n)


def can_enumerate(n: int, n_perm: int) -> bool:
    """Exact permutation tests are used when all n! permutations fit in the permutation budget."""
    return n <= 10 and math.factorial(n) <= n_perm


def permute_within(strata: np.ndarray, rng: np.random.Generator) -> Int[np.ndarray, " n"]:
    """An index permutation that only shuffles items within the same stratum (e.g. task)."""
    strata = np.asarray(strata)
    order = np.arange(len(strata))
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        order[members] = rng.permutation(members)
    return order


def permutation_matrix(strata: np.ndarray, n_perm: int, seed: int) -> Int[np.ndarray, "perm n"]:
    """[n_perm, n] index permutations within strata, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    if not n_perm:
        return np.zeros((0, len(strata)), dtype=int)
    return np.stack([permute_within(strata, rng) for _ in range(n_perm)])


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


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring NaN (undefined) resamples; NaN when none."""
    samples = np.asarray(samples, dtype=np.float64)
    tail = (1.0 - level) / 2.0 * 100.0
    if not np.isfinite(samples).any():
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan
    with np.errstate(invalid="ignore"):
        low, high = np.nanpercentile(samples, [tail, 100.0 - tail], axis=0)
    return low, high


def bootstrap_ci(
    statistic: Callable[..., np.ndarray],
    *arrays: np.ndarray,
    n_boot: int,
    seed: int | np.random.Generator,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile CI of `statistic` with the items (axis 0 of every array) resampled together.

    `statistic` is vectorised: it receives each array with a leading resample axis
    (`array[indices]`, shape [n_boot, n, ...]) and returns one value per resample.
    """
    if n_boot <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    arrays = tuple(np.asarray(a) for a in arrays)
    index = bootstrap_indices(rng, n_boot, arrays[0].shape[0])
    values = np.asarray(statistic(*(a[index] for a in arrays)), dtype=np.float64)
    low, high = percentile_ci(values, level)
    return float(low), float(high)


def permutation_p(
    observed,
    null: np.ndarray,
    *,
    alternative: Alternative = "two-sided",
    exact: bool = False,
) -> np.ndarray | float:
    """Permutation p of `observed` against `null` (resampled statistics along axis 0).

    Two-sided (the default) counts |null| >= |observed|; "greater" counts null >= observed and
    "less" null <= observed. p = (1 + hits) / (1 + n_valid), or hits / n_valid with `exact` (the
    null enumerates every permutation, the identity among them). NaN null values are not counted;
    NaN where `observed` is NaN or no null value is finite. Scalars in, float out.
    """
    obs = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if alternative == "two-sided":
            hits = np.sum(np.abs(null) >= np.abs(obs) - TIE_TOL, axis=0)
        elif alternative == "greater":
            hits = np.sum(null >= obs - TIE_TOL, axis=0)
        elif alternative == "less":
            hits = np.sum(null <= obs + TIE_TOL, axis=0)
        else:
            raise ValueError(f"unknown alternative {alternative!r}")
    valid = np.sum(np.isfinite(null), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = hits / valid if exact else (hits + 1.0) / (valid + 1.0)
    p = np.where(np.isfinite(obs) & (valid > 0), p, np.nan)
    return float(p) if p.ndim == 0 else p


def bootstrap_p(deltas: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p for 'statistic = 0' (twice the smaller tail, +1 corrected), axis 0."""
    deltas = np.asarray(deltas, dtype=np.float64)
    valid = np.sum(np.isfinite(deltas), axis=0)
    below = np.sum(deltas <= 0, axis=0)
    above = np.sum(deltas >= 0, axis=0)
    p = 2.0 * (np.minimum(below, above) + 1.0) / (valid + 1.0)
    return np.minimum(p, 1.0)


@dataclass(frozen=True)
class Difference:
    """statistic(a) - statistic(b) on the same items, with a paired bootstrap CI and p."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


def paired_bootstrap(
    statistic: Callable[..., np.ndarray],
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    *,
    n_boot: int,
    seed: int | np.random.Generator,
    level: float = 0.95,
    min_n: int = 4,
) -> Difference:
    """Difference of a statistic between two sides measured on the same `n` items, paired.

    `a` and `b` are tuples of arrays aligned on items (axis 0); every resample draws the same items
    for both sides, so the CI reflects only the difference, not the spread of the items. As in
    `bootstrap_ci`, `statistic` takes arrays with a leading resample axis and returns [rows];
    the estimate is it on the full items (one row). The p is `bootstrap_p` of the differences.
    NaN (with n) when fewer than `min_n` items.
    """
    a = tuple(np.asarray(v) for v in a)
    b = tuple(np.asarray(v) for v in b)
    n = a[0].shape[0]
    nan = float("nan")
    if n < min_n:
        return Difference(nan, nan, nan, nan, n)
    estimate = float(
        np.asarray(statistic(*(v[None] for v in a)))[0]
        - np.asarray(statistic(*(v[None] for v in b)))[0]
    )
    if n_boot <= 0:
        return Difference(estimate, nan, nan, nan, n)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    index = bootstrap_indices(rng, n_boot, n)
    deltas = np.asarray(statistic(*(v[index] for v in a))) - np.asarray(
        statistic(*(v[index] for v in b))
    )
    low, high = percentile_ci(deltas, level)
    p = float(bootstrap_p(deltas[np.isfinite(deltas)])) if np.isfinite(deltas).any() else nan
    return Difference(estimate, float(low), float(high), p, n)
