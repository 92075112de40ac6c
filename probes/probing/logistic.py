"""Logistic probes for class targets (correctness, difficulty tertiles) with inner CV over C.

scikit-learn's lbfgs LogisticRegression on features standardised inside each training fold; C is
chosen by the mean inner-fold score of the target's metric (AUROC for two classes, balanced
accuracy for more), exactly as GridSearchCV would on the same folds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from mimicry.probes.probing.metrics import class_score

Array = np.ndarray


def _fit(x_train, y_train, c: float, seed: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, max_iter=1000, random_state=seed)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return model


def class_output(model, x: Float[Array, "m d"], n_classes: int) -> np.ndarray:
    """What the metric needs: decision scores for two classes, predicted labels for more."""
    if n_classes == 2:
        return model.decision_function(x)
    return model.predict(x).astype(float)


@dataclass
class LogisticCVResult:
    """Out-of-fold outputs of nested-CV logistic regression and the C each fold chose."""

    oof: np.ndarray  # [n] decision scores (binary) or predicted labels (multiclass)
    c_index: np.ndarray  # [fold]
    cs: np.ndarray
    n_degenerate_folds: int = 0
    """Outer folds whose training part held one class (a within-task permutation can do that):
    no probe can be fitted there, so its test items get the uninformative prediction (score 0,
    or that one class) and the fold is counted here instead of crashing the run."""


def logistic_nested_cv(
    x: Float[Array, "n d"],
    y: np.ndarray,
    splits: list,
    cs: Float[Array, " c"],
    *,
    seed: int = 0,
    fixed_c_index: np.ndarray | None = None,
) -> LogisticCVResult:
    """Nested CV over C; with `fixed_c_index` (one per outer fold) the inner search is skipped.

    Permutation nulls use the C chosen for the real labels in each fold (inner CV never sees the
    outer test fold, so this keeps the null valid while making 200 permutations affordable).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    n_classes = len(np.unique(y))
    cs = np.asarray(cs, dtype=np.float64)
    oof = np.full(len(y), np.nan)
    chosen = np.zeros(len(splits), dtype=int)
    degenerate = 0
    for fold, (train, test, inner) in enumerate(splits):
        if fixed_c_index is not None or len(cs) == 1:
            best = 0 if fixed_c_index is None else int(fixed_c_index[fold])
        else:
            scores = np.zeros(len(cs))
            for c_i, c in enumerate(cs):
                for inner_train, inner_test in inner:
                    tr, te = train[inner_train], train[inner_test]
                    if len(np.unique(y[tr])) < 2:
                        scores[c_i] += np.nan
                        continue
                    model = _fit(x[tr], y[tr], c, seed)
                    scores[c_i] += class_score(
                        y[te], class_output(model, x[te], n_classes), n_classes
                    )
            best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
        chosen[fold] = best
        present = np.unique(y[train])
        if len(present) < 2:
            degenerate += 1
            oof[test] = 0.0 if n_classes <= 2 else present[0]
            continue
        model = _fit(x[train], y[train], cs[best], seed)
        oof[test] = class_output(model, x[test], n_classes)
    return LogisticCVResult(oof=oof, c_index=chosen, cs=cs, n_degenerate_folds=degenerate)
