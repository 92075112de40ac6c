"""Probe scores, vectorised over resamples (rows) so bootstrap CIs need no Python loop.

Every function takes truth and prediction arrays of shape [..., n] and scores the last axis.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

CONTINUOUS_METRICS = ("r2", "spearman")


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination of held-out predictions (can be negative)."""
    ss_res = ((y - pred) ** 2).sum(axis=-1)
    ss_tot = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis (NaN when either side is constant)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=-1) / denom, np.nan)


def spearman(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Spearman correlation (average ranks for ties)."""
    return pearson(rankdata(y, axis=-1), rankdata(pred, axis=-1))


def auroc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Area under the ROC curve for labels in {0, 1} (Mann-Whitney form, ties count half)."""
    y = np.asarray(y).astype(float)
    ranks = rankdata(score, axis=-1)
    n_pos = y.sum(axis=-1)
    n_neg = y.shape[-1] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (ranks * y).sum(axis=-1) - n_pos * (n_pos + 1) / 2
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean per-class recall over the classes present (as sklearn's balanced_accuracy_score)."""
    y = np.asarray(y)
    recalls = []
    present = []
    for k in range(n_classes):
        in_class = y == k
        count = in_class.sum(axis=-1)
        hits = (in_class & (pred == k)).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            recalls.append(np.where(count > 0, hits / count, 0.0))
        present.append(count > 0)
    recalls, present = np.stack(recalls), np.stack(present)
    return recalls.sum(axis=0) / present.sum(axis=0)


def class_metric_name(n_classes: int) -> str:
    """The metric a class target is scored by."""
    return "auroc" if n_classes == 2 else "balanced_accuracy"


def class_score(y: np.ndarray, output: np.ndarray, n_classes: int) -> float:
    """Score of one class probe's outputs (decision scores for 2 classes, labels for more)."""
    if n_classes == 2:
        return float(auroc(np.asarray(y), np.asarray(output)))
    return float(balanced_accuracy(np.asarray(y), np.asarray(output), n_classes))


def score(metric: str, y: np.ndarray, pred: np.ndarray, n_classes: int = 0) -> np.ndarray:
    """Dispatch by metric name; chance is 0 for r2/spearman, 0.5 for auroc, 1/k for balanced accuracy."""
    if metric == "r2":
        return r2(y, pred)
    if metric == "spearman":
        return spearman(y, pred)
    if metric == "auroc":
        return auroc(y, pred)
    if metric == "balanced_accuracy":
        return balanced_accuracy(y, pred, n_classes)
    raise ValueError(f"unknown metric {metric!r}")
