"""One probe: a feature matrix and a target -> held-out score, CI, control score and p-value.

Its options are the stage's one `ProbeConfig` (`mimicry.probes.config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mimicry.data.stats import permutation_p
from mimicry.probes.config import DEFAULT_ALPHAS, DEFAULT_CS, ProbeConfig
from mimicry.probes.probing.controls import label_matrix
from mimicry.probes.probing.logistic import logistic_nested_cv
from mimicry.probes.probing.metrics import (
    CONTINUOUS_METRICS,
    class_metric_name,
    score,
    score_ci,
)
from mimicry.probes.probing.ridge import ridge_nested_cv
from mimicry.probes.probing.ridge_classifier import ridge_classifier_nested_cv


@dataclass
class MetricResult:
    """Scores of one probe under one metric."""

    metric: str
    score: float
    ci_low: float
    ci_high: float
    control_score: float
    control_ci_low: float
    control_ci_high: float
    p_value: float
    null_scores: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    oof: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    """Targets and out-of-fold predictions per item (paired comparisons across models)."""
    one_class_folds: dict[str, int] = field(default_factory=dict)
    """Class probes: outer-fold fits whose training part held one class (nothing to learn; the
    fold predicts a constant), for the real labels, the control tasks and the permutations."""

    @property
    def selectivity(self) -> float:
        return self.score - self.control_score


def _summarise(metric, y, oof, control_y, control_oof, perm_y, perm_oof, config, n_classes):
    observed = float(score(metric, y, oof, n_classes))
    low, high = score_ci(
        metric, y, oof, n_boot=config.n_boot, seed=config.seed, n_classes=n_classes
    )
    if control_y.shape[1]:
        control_scores = score(metric, control_y.T, control_oof.T, n_classes)
        control = float(np.mean(control_scores))
        c_low, c_high = score_ci(
            metric,
            control_y,
            control_oof,
            n_boot=config.n_boot,
            seed=config.seed,
            n_classes=n_classes,
        )
    else:
        control, c_low, c_high = (float("nan"),) * 3
    null = score(metric, perm_y.T, perm_oof.T, n_classes) if perm_y.shape[1] else np.zeros(0)
    return MetricResult(
        metric,
        observed,
        low,
        high,
        control,
        c_low,
        c_high,
        permutation_p(observed, null, alternative="greater"),
        null,
        np.asarray(y, dtype=float),
        np.asarray(oof, dtype=float),
    )


def run_probe(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    tasks: np.ndarray,
    splits: list,
    config: ProbeConfig,
    *,
    n_classes: int = 0,
) -> list[MetricResult]:
    """Fit the probe, its control tasks and its permutation null on the same nested splits."""
    if kind == "continuous":
        y, control_y, perm_y = label_matrix(
            y, tasks, n_control=config.n_control, n_perm=config.n_perm, seed=config.seed
        )
        stacked = np.column_stack([y, control_y, perm_y])
        oof = ridge_nested_cv(x, stacked, splits, np.asarray(config.alphas)).oof
        k = 1 + control_y.shape[1]
        return [
            _summarise(metric, y, oof[:, 0], control_y, oof[:, 1:k], perm_y, oof[:, k:], config, 0)
            for metric in CONTINUOUS_METRICS
        ]
    metric = class_metric_name(n_classes)
    if config.class_probe == "ridge":
        y, control_y, perm_y = label_matrix(
            y.astype(int), tasks, n_control=config.n_control, n_perm=config.n_perm, seed=config.seed
        )
        stacked = np.column_stack([y, control_y, perm_y])
        fitted = ridge_classifier_nested_cv(
            x, stacked, splits, np.asarray(config.alphas), n_classes
        )
        oof, k = fitted.oof, 1 + control_y.shape[1]
        result = _summarise(
            metric, y, oof[:, 0], control_y, oof[:, 1:k], perm_y, oof[:, k:], config, n_classes
        )
        counts = fitted.one_class_folds
        result.one_class_folds = _fold_counts(counts[0], counts[1:k].sum(), counts[k:].sum())
        return [result]
    n_perm = config.n_perm if config.n_perm_logistic is None else config.n_perm_logistic
    y, control_y, perm_y = label_matrix(
        y.astype(int), tasks, n_control=config.n_control, n_perm=n_perm, seed=config.seed
    )
    cs = np.asarray(config.cs)
    real = logistic_nested_cv(x, y, splits, cs, seed=config.seed)
    controls = [logistic_nested_cv(x, c, splits, cs, seed=config.seed) for c in control_y.T]
    nulls = [
        logistic_nested_cv(x, p, splits, cs, seed=config.seed, fixed_c_index=real.c_index)
        for p in perm_y.T
    ]
    empty = [np.zeros((len(y), 0))]
    control_oof = np.column_stack([c.oof for c in controls] or empty)
    perm_oof = np.column_stack([p.oof for p in nulls] or empty)
    result = _summarise(
        metric, y, real.oof, control_y, control_oof, perm_y, perm_oof, config, n_classes
    )
    result.one_class_folds = _fold_counts(
        real.n_degenerate_folds,
        sum(c.n_degenerate_folds for c in controls),
        sum(p.n_degenerate_folds for p in nulls),
    )
    return [result]


def _fold_counts(real, control, permutation) -> dict[str, int]:
    return {"real": int(real), "control": int(control), "permutation": int(permutation)}


__all__ = ["DEFAULT_ALPHAS", "DEFAULT_CS", "MetricResult", "ProbeConfig", "run_probe"]
