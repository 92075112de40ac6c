"""Closed-form ridge for every regularisation value and target at once.

One tridiagonal reduction per training fold (of the n x n Gram matrix when items are fewer than
features, else of the d x d covariance; the first stage of an eigendecomposition, at a third of its
cost) gives the ridge solution for all alphas and for any number of target columns (real labels, control tasks and permutations together), so a permutation test
costs a few matrix products instead of a refit. Results equal scikit-learn's
`make_pipeline(StandardScaler(), Ridge(alpha))` on the same folds (tests/test_probe_ridge.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

Array = np.ndarray


def standardise(
    train: Float[Array, "n d"], test: Float[Array, "m d"]
) -> tuple[Float[Array, "n d"], Float[Array, "m d"]]:
    """Scale with the training fold's mean and population std (as StandardScaler, constants kept)."""
    train = np.asarray(train, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    mean = train.mean(axis=0)
    var = train.var(axis=0)
    n = train.shape[0]
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.sqrt(var))
    return (train - mean) / scale, (test - mean) / scale


def ridge_path_predict(
    x_train: Float[Array, "n d"],
    y_train: Float[Array, "n t"],
    x_test: Float[Array, "m d"],
    alphas: Float[Array, " a"],
) -> Float[Array, "a m t"]:
    """Held-out predictions of standardised ridge (with intercept) for every alpha and target."""
    xs_train, xs_test = standardise(x_train, x_test)
    y_train = np.asarray(y_train, dtype=np.float64)
    y_mean = y_train.mean(axis=0)
    y_centred = y_train - y_mean
    alphas = np.asarray(alphas, dtype=np.float64)
    n, d = xs_train.shape
    if n <= d:
        # Kernel form: X_test w = (X_test X') (X X' + a I)^-1 y.
        preds = shifted_solve(xs_train @ xs_train.T, y_centred, xs_test @ xs_train.T, alphas)
    else:
        # Primal form: X_test w = X_test (X'X + a I)^-1 X'y.
        preds = shifted_solve(xs_train.T @ xs_train, xs_train.T @ y_centred, xs_test, alphas)
    return preds + y_mean


def shifted_solve(
    gram: Float[Array, "k k"],
    rhs: Float[Array, "k t"],
    left: Float[Array, "m k"],
    alphas: Float[Array, " a"],
) -> Float[Array, "a m t"]:
    """left @ (gram + a I)^-1 @ rhs for every alpha, from one tridiagonal reduction of `gram`.

    gram = Q T Q' (LAPACK sytrd, a third of a full eigendecomposition's cost), so each alpha is an
    O(k) tridiagonal solve of T + a I against Q' rhs, and left @ Q is formed once (ormqr).
    """
    from scipy.linalg import lapack

    k = gram.shape[0]
    if k == 1:
        return np.stack([left @ (rhs / (gram[0, 0] + a)) for a in alphas])
    packed, diag, off, tau, info = lapack.dsytrd(gram, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"sytrd failed (info={info})")
    reflectors, tau = packed[1:, :-1], tau[: k - 1]

    def apply_qt(block: np.ndarray) -> np.ndarray:
        block = np.array(block, dtype=np.float64, order="F", copy=True)
        lwork = max(1, 64 * block.shape[1])
        rotated, _, info = lapack.dormqr(b"L", b"T", reflectors, tau, block[1:], lwork)
        if info != 0:
            raise np.linalg.LinAlgError(f"ormqr failed (info={info})")
        block[1:] = rotated
        return block

    rotated_rhs = apply_qt(rhs)
    left_q = apply_qt(left.T).T
    preds = np.empty((len(alphas), left.shape[0], rhs.shape[1]))
    for i, alpha in enumerate(alphas):
        *_, solved, info = lapack.dgtsv(off, diag + alpha, off, rotated_rhs)
        if info != 0:
            raise np.linalg.LinAlgError(f"singular ridge system at alpha={alpha}")
        preds[i] = left_q @ solved
    return preds


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
    alpha_index: np.ndarray  # [fold, t]
    alphas: np.ndarray


def ridge_nested_cv(
    x: Float[Array, "n d"],
    y: Float[Array, "n t"],
    splits: list,
    alphas: Float[Array, " a"],
) -> RidgeCVResult:
    """Nested CV: per outer fold choose alpha by mean inner R^2 (as GridSearchCV), refit, predict.

    `splits` is the output of `cv.nested_splits`. Every column of `y` gets its own alpha, so real,
    control and permuted labels go through exactly the same pipeline.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    squeeze = y.ndim == 1
    if squeeze:
        y = y[:, None]
    alphas = np.asarray(alphas, dtype=np.float64)
    oof = np.full(y.shape, np.nan)
    chosen = np.zeros((len(splits), y.shape[1]), dtype=int)
    for fold, (train, test, inner) in enumerate(splits):
        x_train, y_train = x[train], y[train]
        inner_scores = np.zeros((len(alphas), y.shape[1]))
        for inner_train, inner_test in inner:
            preds = ridge_path_predict(
                x_train[inner_train], y_train[inner_train], x_train[inner_test], alphas
            )
            inner_scores += r2_columns(y_train[inner_test], preds)
        best = np.argmax(inner_scores / len(inner), axis=0)  # first maximum, as GridSearchCV
        chosen[fold] = best
        outer_alphas = np.unique(best)
        preds = ridge_path_predict(x_train, y_train, x[test], alphas[outer_alphas])
        lookup = np.searchsorted(outer_alphas, best)
        oof[test] = preds[lookup, :, np.arange(y.shape[1])].T
    if squeeze:
        oof = oof[:, 0]
    return RidgeCVResult(oof=oof, alpha_index=chosen, alphas=alphas)
