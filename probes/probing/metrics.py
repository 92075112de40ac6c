"""Probe scores, vectorised over resamples (rows) so bootstrap CIs need no Python loop.

Every function takes truth and prediction arrays of shape [..., n] and scores the last axis.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from mimicry.data import stats

CONTINUOUS_METRICS = ("r2", "spearman")


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination of held-out predictions (can be negative)."""
    ss_res = ((y - pred) ** 2).sum(axis=-1)
    ss_tot = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def spearman(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Spearman correlation along the last axis (average ranks for ties; NaN when constant)."""
    return stats.spearman(y, pred, axis=-1)


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


def score_ci(
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
    y, preds = np.asarray(y), np.asarray(preds)
    if y.ndim == 1:
        y, preds = y[:, None], preds[:, None]

    def mean_score(yb: np.ndarray, pb: np.ndarray) -> np.ndarray:
        columns = [score(metric, yb[..., k], pb[..., k], n_classes) for k in range(y.shape[1])]
        return np.stack(columns).mean(axis=0)

    return stats.bootstrap_ci(mean_score, y, preds, n_boot=n_boot, seed=seed, level=level)
