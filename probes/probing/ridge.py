"""Closed-form ridge for every regularisation value and target at once.

Each training fold factorises one matrix: the n x n Gram of its items when they are fewer than the
features, else the d x d covariance. With many alphas it is reduced once to a symmetric band matrix
(blocked Householder, all matrix-matrix products), after which each alpha is a cheap banded
Cholesky solve, for any number of target columns (real labels, control tasks and permutations
together), so a permutation test costs a few matrix products instead of a refit; with few alphas a
Cholesky per alpha is cheaper. In nested CV the d x d covariance of a fold is a downdate of the
cross-product of all rows (minus the small held-out part), standardised analytically. Results
equal scikit-learn's `make_pipeline(StandardScaler(), Ridge(alpha))` on the same folds
(tests/test_probe_ridge.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

Array = np.ndarray
InnerScore = Callable[[np.ndarray, np.ndarray], np.ndarray]
BAND = 64
"""Half-bandwidth of the band reduction (its panel width)."""
CHOLESKY_MAX_ALPHAS = 3
"""Up to this many alphas a Cholesky per alpha (k^3/3 each) beats one band reduction (4k^3/3)."""


def _scale(var: np.ndarray, mean: np.ndarray, n: int) -> np.ndarray:
    """Population std, 1 for constant features (StandardScaler's test, on the uncentred mean)."""
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    return np.where(constant, 1.0, np.sqrt(var))


def standardise(
    train: Float[Array, "n d"], test: Float[Array, "m d"], offset: float | np.ndarray = 0.0
) -> tuple[Float[Array, "n d"], Float[Array, "m d"]]:
    """Scale with the training fold's mean and population std (as StandardScaler, constants kept).

    `offset` is what was already subtracted from both (it only matters for the constant test).
    """
    train = np.asarray(train, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    mean = train.mean(axis=0)
    scale = _scale(train.var(axis=0), mean + offset, train.shape[0])
    return (train - mean) / scale, (test - mean) / scale


def ridge_path_predict(
    x_train: Float[Array, "n d"],
    y_train: Float[Array, "n t"],
    x_test: Float[Array, "m d"],
    alphas: Float[Array, " a"],
    offset: float | np.ndarray = 0.0,
) -> Float[Array, "a m t"]:
    """Held-out predictions of standardised ridge (with intercept) for every alpha and target."""
    xs_train, xs_test = standardise(x_train, x_test, offset)
    y_train = np.asarray(y_train, dtype=np.float64)
    y_mean = y_train.mean(axis=0)
    y_centred = y_train - y_mean
    alphas = np.asarray(alphas, dtype=np.float64)
    n, d = xs_train.shape
    if n <= d:
        # Kernel form: X_test w = (X_test X') (X X' + a I)^-1 y.
        preds = shifted_solve(xs_train @ xs_train.T, y_centred, (xs_test, xs_train.T), alphas)
    else:
        # Primal form: X_test w = X_test (X'X + a I)^-1 X'y.
        preds = shifted_solve(xs_train.T @ xs_train, xs_train.T @ y_centred, xs_test, alphas)
    return preds + y_mean


@dataclass
class Moments:
    """Cross-product and column sums of a set of rows: a subset's are a downdate of them."""

    cross: Float[Array, "d d"]
    sums: Float[Array, " d"]
    n: int

    @classmethod
    def of(cls, x: Float[Array, "n d"]) -> Moments:
        return cls(x.T @ x, x.sum(axis=0), x.shape[0])

    def without(self, rows: Float[Array, "m d"]) -> Moments:
        return Moments(self.cross - rows.T @ rows, self.sums - rows.sum(axis=0), self.n - len(rows))


def _primal_from_moments(
    moments: Moments,
    x_train: Float[Array, "n d"],
    y_train: Float[Array, "n t"],
    x_test: Float[Array, "m d"],
    alphas: Float[Array, " a"],
    offset: np.ndarray,
) -> Float[Array, "a m t"]:
    """As `ridge_path_predict` (primal), with the standardised covariance formed from `moments`.

    For Z = (X - mu) / s over the training rows, Z'Z = D^-1 (S - n mu mu') D^-1 with S = X'X; the
    rows are centred on the mean of all rows beforehand (`offset`), so nothing cancels badly.
    """
    n = moments.n
    mean = moments.sums / n
    cov = moments.cross - n * np.outer(mean, mean)
    scale = _scale(np.maximum(np.diag(cov) / n, 0.0), mean + offset, n)
    gram = cov / np.outer(scale, scale)
    y_mean = y_train.mean(axis=0)
    y_centred = y_train - y_mean
    rhs = (x_train.T @ y_centred - np.outer(mean, y_centred.sum(axis=0))) / scale[:, None]
    return shifted_solve(gram, rhs, (x_test - mean) / scale, alphas) + y_mean


def _downdated(moments: Moments | None, x, train, test) -> Moments | None:
    """Moments of x[train] from those of all of x, when the primal form is used and test = rest."""
    if moments is None or len(train) <= x.shape[1]:
        return None
    if len(np.union1d(train, test)) != len(x) or len(train) + len(test) != len(x):
        return Moments.of(x[train])
    return moments.without(x[test])


def _fit_predict(x_train, y_train, x_test, alphas, moments: Moments | None, offset):
    """Ridge path on one fold, from the fold's moments (primal form) when given."""
    if moments is not None:
        return _primal_from_moments(moments, x_train, y_train, x_test, alphas, offset)
    return ridge_path_predict(x_train, y_train, x_test, alphas, offset)


def shifted_solve(
    gram: Float[Array, "k k"],
    rhs: Float[Array, "k t"],
    left: Float[Array, "m k"] | tuple[Float[Array, "m p"], Float[Array, "p k"]],
    alphas: Float[Array, " a"],
    method: str | None = None,
) -> Float[Array, "a m t"]:
    """left @ (gram + a I)^-1 @ rhs for every alpha (`left` may be given as a product of two).

    Few alphas: a Cholesky each. Many: gram = Q B Q' with B banded (or tridiagonal when many target
    columns make banded solves dear), each alpha a cheap solve of B + a I against Q' rhs; then
    either the solutions are rotated back or `left` is rotated, whichever is cheaper. `method`
    ("cholesky", "band" or "tridiagonal") overrides the choice.
    """
    from scipy.linalg import cho_factor, cho_solve

    outer, inner = left if isinstance(left, tuple) else (left, None)
    k, m, a_t = gram.shape[0], outer.shape[0], len(alphas) * rhs.shape[1]
    p = inner.shape[0] if inner is not None else k
    # flops of applying a (product) left to a t solutions, against forming left first
    cost_factored = 2 * (p * k + m * p) * a_t if inner is not None else 2 * m * k * a_t
    cost_formed = (2 * m * p * k if inner is not None else 0) + 2 * m * k * a_t
    if method is None:
        few = len(alphas) <= CHOLESKY_MAX_ALPHAS or k <= BAND + 1
        band = _band_pays(k, len(alphas), rhs.shape[1])
        method = "cholesky" if few else "band" if band else "tridiagonal"
    if method == "cholesky":
        eye = np.eye(k)
        solutions = np.stack(
            [cho_solve(cho_factor(gram + a * eye, lower=True), rhs) for a in alphas]
        )
        return _apply_left(outer, inner, solutions)
    solver = {"band": _band_solutions, "tridiagonal": _tridiagonal_solutions}[method]
    rotated, rotate_back, rotate = solver(gram, rhs, alphas)
    if 2 * k * k * a_t + cost_factored <= 2 * k * k * m + cost_formed:
        flat = rotate_back(rotated.transpose(1, 0, 2).reshape(k, a_t))
        return _apply_left(outer, inner, flat.reshape(k, len(alphas), -1).transpose(1, 0, 2))
    full = outer @ inner if inner is not None else outer
    return rotate(full.T).T @ rotated


def _band_pays(k: int, n_alphas: int, n_targets: int) -> bool:
    """Band reduction (BLAS-3) vs LAPACK's tridiagonal one (half matrix-vector, ~3x slower per
    flop once the matrix leaves cache): the band costs instead a banded solve per target column."""
    tridiagonal_penalty = (4 / 3) * k**3 * (2.0 if k >= 512 else 0.5)
    return 40 * n_alphas * BAND * n_targets * k < tridiagonal_penalty


def _band_solutions(gram, rhs, alphas):
    """Solutions in the band basis, and the rotations back (Q @) and into it (Q' @)."""
    from scipy.linalg import lapack

    band, panels = band_reduce(gram)
    rotated_rhs = _apply_qt(panels, rhs)
    rotated = np.empty((len(alphas), gram.shape[0], rhs.shape[1]))
    for i, alpha in enumerate(alphas):
        shifted = band.copy()
        shifted[0] += alpha
        *_, rotated[i], info = lapack.dpbsv(shifted, rotated_rhs, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"singular ridge system at alpha={alpha}")
    return rotated, lambda block: _apply_q(panels, block), lambda block: _apply_qt(panels, block)


def _tridiagonal_solutions(gram, rhs, alphas):
    """As `_band_solutions` with gram = Q T Q' (LAPACK sytrd): each alpha an O(k) solve."""
    from scipy.linalg import lapack

    k = gram.shape[0]
    packed, diag, off, tau, info = lapack.dsytrd(gram, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"sytrd failed (info={info})")
    reflectors, tau = packed[1:, :-1], tau[: k - 1]

    def apply(block: np.ndarray, trans: bytes) -> np.ndarray:
        block = np.array(block, dtype=np.float64, order="F", copy=True)
        lwork = max(1, 64 * block.shape[1])
        turned, _, info = lapack.dormqr(b"L", trans, reflectors, tau, block[1:], lwork)
        if info != 0:
            raise np.linalg.LinAlgError(f"ormqr failed (info={info})")
        block[1:] = turned
        return block

    rotated_rhs = apply(rhs, b"T")
    rotated = np.empty((len(alphas), k, rhs.shape[1]))
    for i, alpha in enumerate(alphas):
        *_, rotated[i], info = lapack.dgtsv(off, diag + alpha, off, rotated_rhs)
        if info != 0:
            raise np.linalg.LinAlgError(f"singular ridge system at alpha={alpha}")
    return rotated, lambda block: apply(block, b"N"), lambda block: apply(block, b"T")


def _apply_left(outer, inner, solutions: Float[Array, "a k t"]) -> Float[Array, "a m t"]:
    a, k, t = solutions.shape
    m, p = outer.shape[0], (inner.shape[0] if inner is not None else k)
    if inner is None:
        return outer @ solutions
    if 2 * (p * k + m * p) * a * t <= 2 * m * p * k + 2 * m * k * a * t:
        flat = inner @ solutions.transpose(1, 0, 2).reshape(k, a * t)
        return (outer @ flat).reshape(m, a, t).transpose(1, 0, 2)
    return (outer @ inner) @ solutions


def band_reduce(
    gram: Float[Array, "k k"], width: int = BAND
) -> tuple[Float[Array, "w k"], list[tuple[int, np.ndarray, np.ndarray]]]:
    """gram = Q B Q' with B of half-bandwidth `width` (LAPACK sytrd_sy2sb's blocked Householder).

    Returns B in LAPACK lower band storage and Q as panels (start row, V, T), each I - V T V'.
    Every step is a QR of one panel and a symmetric rank-2w update of the trailing matrix.
    """
    from scipy.linalg import blas, lapack

    k = gram.shape[0]
    dense = np.array(gram, dtype=np.float64, order="F", copy=True)  # lower triangle used
    reduced = np.zeros((k, k))
    trailing, start, panels = dense, 0, []
    while start + width < k - 1:
        split = start + width
        reduced[start:split, start:split] = trailing[:width, :width]
        qr, t, info = lapack.dgeqrt(
            min(width, k - split), np.asfortranarray(trailing[width:, :width])
        )
        if info != 0:
            raise np.linalg.LinAlgError(f"geqrt failed (info={info})")
        r = min(width, k - split)
        v = np.tril(qr[:, :r], -1)
        v[np.arange(r), np.arange(r)] = 1.0
        t = t[:r, :r]
        reduced[split : split + r, start:split] = np.triu(qr[:r])
        # Q'AQ = A - W V' - V W' with X = A V T and W = X - V T' V' X / 2.
        rest = np.asfortranarray(trailing[width:, width:])
        x = blas.dsymm(1.0, rest, v, side=0, lower=1) @ t
        w = x - 0.5 * (v @ (t.T @ (v.T @ x)))
        trailing = blas.dsyr2k(-1.0, w, v, beta=1.0, c=rest, lower=1, overwrite_c=1)
        panels.append((split, v, t))
        start = split
    reduced[start:, start:] = trailing
    kd = min(width, k - 1)
    band = np.zeros((kd + 1, k))
    for offset in range(kd + 1):
        band[offset, : k - offset] = np.diagonal(reduced, -offset)
    return band, panels


def _apply_qt(panels, block: np.ndarray) -> np.ndarray:
    block = np.array(block, dtype=np.float64, copy=True)
    for start, v, t in panels:
        block[start:] -= v @ (t.T @ (v.T @ block[start:]))
    return block


def _apply_q(panels, block: np.ndarray) -> np.ndarray:
    block = np.array(block, dtype=np.float64, copy=True)
    for start, v, t in reversed(panels):
        block[start:] -= v @ (t @ (v.T @ block[start:]))
    return block


def r2_columns(
    y_true: Float[Array, "m t"], preds: Float[Array, "... m t"]
) -> Float[Array, "... t"]:
    """R^2 per column (sklearn's r2_score with force_finite: constant truth scores 1 or 0)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    ss_res = ((preds - y_true) ** 2).sum(axis=-2)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=-2)
    safe = np.where(ss_tot > 0, ss_tot, 1.0)
    return np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res == 0, 1.0, 0.0))


@dataclass
class RidgeCVResult:
    """Out-of-fold predictions of nested-CV ridge and the alpha each fold chose per target."""

    oof: Float[Array, "n t"]
    alpha_index: np.ndarray  # [fold, unit]: the alpha each column (or label set) chose
    alphas: np.ndarray


def ridge_nested_cv(
    x: Float[Array, "n d"],
    y: Float[Array, "n t"],
    splits: list,
    alphas: Float[Array, " a"],
    *,
    inner_score: InnerScore | None = None,
    column_unit: np.ndarray | None = None,
) -> RidgeCVResult:
    """Nested CV: per outer fold choose alpha by mean inner score (as GridSearchCV), refit, predict.

    `splits` is the output of `cv.nested_splits`. Every column of `y` gets its own alpha (by inner
    R^2), so real, control and permuted labels go through exactly the same pipeline. A classifier
    passes `inner_score` (held-out truth [m, t] and predictions [a, m, t] -> scores [a, u], NaN
    where undefined) and `column_unit` (the selection unit of each column, 0..u-1: the one-hot
    columns of one label set share their alpha); NaN inner folds are left out of the mean.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    squeeze = y.ndim == 1
    if squeeze:
        y = y[:, None]
    alphas = np.asarray(alphas, dtype=np.float64)
    unit = np.arange(y.shape[1]) if column_unit is None else np.asarray(column_unit)
    n_units = int(unit.max()) + 1 if len(unit) else 0
    # Standardisation is shift-invariant: centring on the overall mean first keeps the downdated
    # cross-products free of cancellation.
    offset = x.mean(axis=0)
    x = x - offset
    moments = Moments.of(x) if any(len(tr) > x.shape[1] for tr, _, _ in splits) else None
    oof = np.full(y.shape, np.nan)
    chosen = np.zeros((len(splits), n_units), dtype=int)
    for fold, (train, test, inner) in enumerate(splits):
        train_moments = _downdated(moments, x, train, test)
        x_train, y_train = x[train], y[train]
        total = np.zeros((len(alphas), n_units))
        counted = np.zeros((len(alphas), n_units))
        for inner_train, inner_test in inner:
            preds = _fit_predict(
                x_train[inner_train],
                y_train[inner_train],
                x_train[inner_test],
                alphas,
                _downdated(train_moments, x_train, inner_train, inner_test),
                offset,
            )
            truth = y_train[inner_test]
            scores = r2_columns(truth, preds) if inner_score is None else inner_score(truth, preds)
            total += np.nan_to_num(scores, nan=0.0)
            counted += np.isfinite(scores)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counted > 0, total / np.maximum(counted, 1), -np.inf)
        best = np.argmax(mean, axis=0)  # first maximum, as GridSearchCV
        chosen[fold] = best
        column_best = best[unit]
        outer_alphas = np.unique(column_best)
        preds = _fit_predict(x_train, y_train, x[test], alphas[outer_alphas], train_moments, offset)
        lookup = np.searchsorted(outer_alphas, column_best)
        oof[test] = preds[lookup, :, np.arange(y.shape[1])].T
    if squeeze:
        oof = oof[:, 0]
    return RidgeCVResult(oof=oof, alpha_index=chosen, alphas=alphas)
