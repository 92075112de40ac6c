"""Ridge classifiers for class targets: the closed-form ridge path on indicator columns.

A ridge classifier (scikit-learn's `RidgeClassifier`: least squares on the class indicators,
decision = the fitted indicator, prediction = its argmax) is a linear probe whose fit is one
factorisation per fold for every label column at once. Real labels, control tasks and every
permutation of the null therefore share the ridge machinery (`ridge.ridge_nested_cv`) and cost a
few matrix products, where a logistic probe refits lbfgs per label set (1,260 fits for one probe
at 200 permutations). The regularisation is chosen per label set by mean inner-fold AUROC (two
classes) or balanced accuracy (more), as `GridSearchCV(make_pipeline(StandardScaler(),
RidgeClassifier(alpha)), scoring=...)` on the same folds (tests/test_probe_classifier.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from mimicry.probes.probing.metrics import auroc, balanced_accuracy
from mimicry.probes.probing.ridge import ridge_nested_cv

Array = np.ndarray


@dataclass
class ClassCVResult:
    """Out-of-fold outputs of nested-CV ridge classifiers, one column per label set."""

    oof: Float[Array, "n t"]
    """Decision values (two classes: the fitted indicator of class 1) or predicted labels."""
    alpha_index: Int[Array, "fold t"]
    alphas: np.ndarray
    one_class_folds: Int[Array, " t"]
    """Outer folds per label set whose training part held one class: nothing can be learnt
    there, so the probe predicts that class (a constant) for the fold's test items."""


def indicators(labels: Int[Array, "n t"], n_classes: int) -> Float[Array, "n c"]:
    """Class-1 indicator per label set (two classes) or one-hot blocks of `n_classes` columns."""
    if n_classes == 2:
        return (labels == 1).astype(np.float64)
    n, t = labels.shape
    onehot = labels[:, :, None] == np.arange(n_classes)[None, None, :]
    return onehot.reshape(n, t * n_classes).astype(np.float64)


def decode(preds: Float[Array, "... m c"], n_classes: int) -> Float[Array, "... m t"]:
    """Decision values (two classes) or argmax labels (first maximum, as scikit-learn)."""
    if n_classes == 2:
        return preds
    *lead, m, c = preds.shape
    blocks = preds.reshape(*lead, m, c // n_classes, n_classes)
    return blocks.argmax(axis=-1).astype(np.float64)


def _labels_of(truth: Float[Array, "m c"], n_classes: int) -> Float[Array, "m t"]:
    return truth if n_classes == 2 else decode(truth, n_classes)


def inner_scorer(n_classes: int):
    """Held-out indicators [m, c] and predictions [a, m, c] -> score per alpha and label set."""

    def score(truth: np.ndarray, preds: np.ndarray) -> Float[Array, "a t"]:
        labels = _labels_of(truth, n_classes).T  # [t, m]
        outputs = decode(preds, n_classes).transpose(0, 2, 1)  # [a, t, m]
        if n_classes == 2:
            return auroc(np.broadcast_to(labels, outputs.shape), outputs)
        return balanced_accuracy(np.broadcast_to(labels, outputs.shape), outputs, n_classes)

    return score


def ridge_classifier_nested_cv(
    x: Float[Array, "n d"],
    labels: Int[Array, "n t"],
    splits: list,
    alphas: Float[Array, " a"],
    n_classes: int,
) -> ClassCVResult:
    """Nested grouped CV of a ridge classifier for every label column of `labels` (codes
    0..n_classes-1; real, control and permuted labels side by side)."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        labels = labels[:, None]
    n_sets = labels.shape[1]
    per_set = 1 if n_classes == 2 else n_classes
    result = ridge_nested_cv(
        x,
        indicators(labels, n_classes),
        splits,
        alphas,
        inner_score=inner_scorer(n_classes),
        column_unit=np.repeat(np.arange(n_sets), per_set),
    )
    one_class = np.zeros(n_sets, dtype=int)
    for train, _test, _inner in splits:
        train_labels = labels[train]
        one_class += (train_labels == train_labels[:1]).all(axis=0)
    return ClassCVResult(
        oof=decode(result.oof, n_classes),
        alpha_index=result.alpha_index,
        alphas=result.alphas,
        one_class_folds=one_class,
    )
