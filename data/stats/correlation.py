"""Pearson and Spearman correlation: point values, Fisher z, and the one `Correlation` record.

`pearson` and `spearman` are vectorised: they correlate along one axis of two arrays, so many
columns (models) or many rows (resamples) are one call. A 1-D argument is the same variable for
every column of the other. `correlate` is what a reported r is: r with n, a CI (percentile
bootstrap over items, or Fisher z when no bootstrap is asked for) and a p (permutation, or the
t test of scipy's pearsonr/spearmanr when no permutations are asked for).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from jaxtyping import Float
from scipy import stats as sps

from mimicry.data.stats.resampling import (
    DEFAULT_MAX_ELEMENTS,
    all_permutations,
    bootstrap_indices,
    can_enumerate,
    percentile_ci,
    permutation_indices,
    permutation_p,
    resample_counts,
)
from mimicry.data.stats.weighted import (
    centered_moments,
    correlation_from_moments,
    permutation_null,
    weighted_spearman,
)

Method = Literal["pearson", "spearman"]
# A variable whose sd is within this fraction of its magnitude is constant (r undefined).
CONSTANT_RTOL = 1e-12
# |r| is clipped below 1 before arctanh so that r = +-1 has a finite Fisher z.
R_MAX = 1.0 - 1e-12


@dataclass(frozen=True, kw_only=True)
class Correlation:
    """A correlation over `n` items with its CI and p; NaN where undefined (too few, constant).

    `method` is "pearson", "spearman" or "partial_pearson"; `ci_method` is "bootstrap" or
    "fisher"; `p_method` is "permutation", "exact_permutation" or "t".
    """

    n: int
    r: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str = "pearson"
    ci_method: str = "fisher"
    p_method: str = "t"

    def as_dict(self, prefix: str) -> dict:
        """Numeric fields renamed `<prefix>_n`, `<prefix>_r`, ... for a flat table row."""
        numeric = ("n", "r", "ci_low", "ci_high", "p_value")
        return {f"{prefix}_{key}": value for key, value in asdict(self).items() if key in numeric}


def is_constant(values: Float[np.ndarray, " n"]) -> bool:
    """True when a variable has no spread: sd <= CONSTANT_RTOL * max(1, |mean|) (r undefined)."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean()
    return not bool(_varies(np.sum(np.square(values - mean)), mean, len(values)))


def _along(values, axis: int, ndim: int) -> np.ndarray:
    """`values` as float; a 1-D array is laid along `axis` of an `ndim` array (broadcast)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1 and ndim > 1:
        shape = [1] * ndim
        shape[axis] = len(values)
        return values.reshape(shape)
    return values


def pearson(x, y, axis: int = 0) -> np.ndarray:
    """Pearson r of `x` and `y` along `axis` (NaN where either is constant), shapes broadcast.

    `pearson(costs [n, m], difficulty [n])` gives [m]; `pearson(a [b, n], c [b, n], axis=-1)`
    gives [b]. The reductions run along `axis` in place (no transposed copies).
    """
    ndim = max(np.ndim(x), np.ndim(y))
    axis = axis % max(ndim, 1)
    xs, ys = _along(x, axis, ndim), _along(y, axis, ndim)
    n = max(xs.shape[axis], ys.shape[axis])
    mx, my = xs.mean(axis=axis, keepdims=True), ys.mean(axis=axis, keepdims=True)
    xc, yc = xs - mx, ys - my
    sxx, syy = (xc * xc).sum(axis=axis), (yc * yc).sum(axis=axis)
    sxy = (xc * yc).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
    varies = _varies(sxx, mx.squeeze(axis), n) & _varies(syy, my.squeeze(axis), n)
    return np.where(varies, r, np.nan)


def _varies(ss: np.ndarray, mean: np.ndarray, n: int) -> np.ndarray:
    """sd > CONSTANT_RTOL * max(1, |mean|), from the centered sum of squares."""
    return ss > n * np.square(CONSTANT_RTOL * np.maximum(1.0, np.abs(mean)))


def ranks(values, axis: int = 0) -> np.ndarray:
    """Average ranks (1-based, ties averaged) along `axis`, as spearmanr uses."""
    values = np.asarray(values, dtype=np.float64)
    return sps.rankdata(values, axis=axis if values.ndim > 1 else 0, method="average")


def spearman(x, y, axis: int = 0) -> np.ndarray:
    """Spearman rho of `x` and `y` along `axis` (Pearson r of the average ranks)."""
    return pearson(ranks(x, axis), ranks(y, axis), axis)


def fisher_z(r) -> np.ndarray:
    """arctanh(r), with |r| clipped to `R_MAX` so that r = +-1 stays finite."""
    return np.arctanh(np.clip(r, -R_MAX, R_MAX))


def fisher_mean(r: np.ndarray, axis: int = 0) -> np.ndarray:
    """tanh of the mean Fisher z along `axis` (unweighted: each correlation counts once)."""
    return np.tanh(np.mean(fisher_z(r), axis=axis))


def fisher_ci(r, n, level: float = 0.95, n_covariates: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """tanh(z +- q / sqrt(n - 3 - n_covariates)): the normal-theory CI of a correlation."""
    q = sps.norm.ppf(0.5 + level / 2.0)
    dof = np.asarray(n, dtype=np.float64) - 3.0 - n_covariates
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.where(dof > 0, q / np.sqrt(np.where(dof > 0, dof, 1.0)), np.nan)
    z = fisher_z(r)
    return np.tanh(z - half), np.tanh(z + half)


def fisher_mean_ci(r, n, level: float = 0.95) -> tuple[float, float, float]:
    """Unweighted Fisher-z mean of k correlations and its normal-theory CI.

    var(mean z) = sum_i 1 / (n_i - 3) / k^2, since each z_i has variance 1 / (n_i - 3).
    """
    r, n = np.asarray(r, dtype=np.float64), np.asarray(n, dtype=np.float64)
    z = fisher_z(r)
    mean = float(z.mean())
    half = sps.norm.ppf(0.5 + level / 2.0) * np.sqrt(np.sum(1.0 / (n - 3.0))) / len(z)
    return float(np.tanh(mean)), float(np.tanh(mean - half)), float(np.tanh(mean + half))


def t_test_p(r, dof) -> np.ndarray:
    """Two-sided p of r under no correlation, t = r sqrt(dof / (1 - r^2)) (as scipy's pearsonr)."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * np.sqrt(dof / np.maximum(1e-300, 1.0 - r * r))
    return 2.0 * sps.t.sf(np.abs(t), dof)


def _nan(n: int, method: str, ci_method: str, p_method: str) -> Correlation:
    nan = float("nan")
    return Correlation(
        n=n, r=nan, ci_low=nan, ci_high=nan, p_value=nan,
        method=method, ci_method=ci_method, p_method=p_method,
    )  # fmt: skip


def correlate(
    x,
    y,
    *,
    method: Method = "pearson",
    n_boot: int = 0,
    n_perm: int = 0,
    seed: int | np.random.Generator = 0,
    level: float = 0.95,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> Correlation:
    """r of two variables over items with n, a CI and a p (NaN when n < 3 or one is constant).

    CI: percentile bootstrap over items with `n_boot` resamples, else Fisher z. p: two-sided
    permutation test with `n_perm` permutations (all n! when they fit: exact), else the t test.
    The bootstrap rows are drawn first, then the permutations, from one generator seeded by `seed`.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(xs)
    ci_method = "bootstrap" if n_boot > 0 else "fisher"
    exact = n_perm > 0 and can_enumerate(n, n_perm)
    p_method = ("exact_permutation" if exact else "permutation") if n_perm > 0 else "t"
    if n < 3 or is_constant(xs) or is_constant(ys):
        return _nan(n, method, ci_method, p_method)
    rx, ry = (ranks(xs), ranks(ys)) if method == "spearman" else (xs, ys)
    r = float(pearson(rx, ry))
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    if n_boot > 0:
        counts = resample_counts(bootstrap_indices(rng, n_boot, n), n)
        if method == "spearman":
            boot = weighted_spearman(counts, xs[:, None], ys)[:, 0]
        else:
            sw, sxx, syy, sxy = centered_moments(counts, xs[:, None], ys)
            boot = correlation_from_moments(sw, sxx, syy, sxy, xs.std(), ys.std())[:, 0]
        low, high = percentile_ci(boot, level)
    else:
        low, high = fisher_ci(r, n, level)
    if n_perm > 0:
        perms = all_permutations(n) if exact else permutation_indices(rng, n_perm, n)
        null = permutation_null(rx[:, None], ry, perms, max_elements=max_elements)[:, 0]
        p = permutation_p(r, null, exact=exact)
    else:
        p = float(t_test_p(r, n - 2))
    return Correlation(
        n=n, r=r, ci_low=float(low), ci_high=float(high), p_value=float(p),
        method=method, ci_method=ci_method, p_method=p_method,
    )  # fmt: skip


def residualise(values, covariate) -> np.ndarray:
    """Least-squares residuals of `values` on an intercept and `covariate`."""
    values = np.asarray(values, dtype=np.float64)
    design = np.column_stack([np.ones(len(values)), np.asarray(covariate, dtype=np.float64)])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef


def partial_pearson(x, y, covariate, level: float = 0.95) -> Correlation:
    """Partial r of x and y given one covariate (both residualised on it by least squares).

    The Fisher-z CI and the t test use one degree of freedom less than `correlate` (one covariate
    removed): half-width q / sqrt(n - 4), dof n - 3. NaN when n < 5 or a residual is constant.
    """
    xs = np.asarray(x, dtype=np.float64)
    n = len(xs)
    if n < 5:
        return _nan(n, "partial_pearson", "fisher", "t")
    rx, ry = residualise(xs, covariate), residualise(y, covariate)
    if is_constant(rx) or is_constant(ry):
        return _nan(n, "partial_pearson", "fisher", "t")
    r = float(pearson(rx, ry))
    low, high = fisher_ci(r, n, level, n_covariates=1)
    return Correlation(
        n=n, r=r, ci_low=float(low), ci_high=float(high), p_value=float(t_test_p(r, n - 3)),
        method="partial_pearson", ci_method="fisher", p_method="t",
    )  # fmt: skip
