"""Combine a model's task-level correlations: Fisher-z mean r-bar and the pooled within-task r.

Both reuse the per-task resamples: task t's b-th bootstrap resample (items drawn within task t)
paired with every other task's b-th resample is one stratified bootstrap resample of the whole
item set, and likewise for the within-task permutations. So CIs come from resampling items
within tasks and p-values from permuting difficulty within tasks, without redrawing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mimicry.data import stats
from mimicry.experiments.behaviour.alignment import TaskCorrelation


@dataclass
class Combined:
    """A combined correlation with its CI and permutation p."""

    value: float
    ci: tuple[float, float]
    p: float
    boot: np.ndarray  # [n_boot] resampled statistic (paired across models on shared items)


NAN = Combined(float("nan"), (float("nan"), float("nan")), float("nan"), np.empty(0))


def r_bar(tasks: Sequence[TaskCorrelation], level: float = 0.95) -> Combined:
    """tanh(mean over tasks of arctanh r), unweighted: each task counts once, as in the papers
    that report a mean within-task r."""
    if not tasks:
        return NAN
    value = float(stats.fisher_mean(np.array([t.r for t in tasks])))
    boot = stats.fisher_mean(np.stack([t.boot_r for t in tasks]), axis=0)
    null = stats.fisher_mean(np.stack([t.perm_r for t in tasks]), axis=0)
    low, high = stats.percentile_ci(boot, level)
    return Combined(value, (float(low), float(high)), float(stats.permutation_p(value, null)), boot)


def pooled_r(
    tasks: Sequence[TaskCorrelation], level: float = 0.95, *, standardise: bool = False
) -> Combined:
    """Correlation of cost and difficulty after removing each task's mean from both (task fixed
    effects): sum_t Sxy_t / sqrt(sum_t Sxx_t * sum_t Syy_t) with within-task centered sums.

    Equals the partial correlation from OLS of cost on difficulty plus task dummies. With
    `standardise`, difficulty is z-scored within task first (each task's Syy becomes n_t), so
    tasks whose norms have different units (RT in ms, error rates) are pooled on one scale.
    """
    if not tasks:
        return NAN
    sxx = np.array([t.sxx for t in tasks])
    syy = np.array([t.syy for t in tasks])
    scale = np.sqrt(np.array([t.n for t in tasks]) / syy) if standardise else np.ones(len(tasks))
    syy = syy * scale**2
    sxy = np.array([t.r for t in tasks]) * np.sqrt(sxx * syy)
    value = float(np.clip(sxy.sum() / np.sqrt(sxx.sum() * syy.sum()), -1.0, 1.0))
    factors = np.stack([np.ones(len(tasks)), scale**2, scale], axis=1)[:, None, :]
    moments = (np.stack([t.boot_moments for t in tasks]) * factors).sum(axis=0)  # [n_boot, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = np.clip(moments[:, 2] / np.sqrt(moments[:, 0] * moments[:, 1]), -1.0, 1.0)
    perm_sxy = (np.stack([t.perm_r for t in tasks]) * np.sqrt(sxx * syy)[:, None]).sum(axis=0)
    null = perm_sxy / np.sqrt(sxx.sum() * syy.sum())
    low, high = stats.percentile_ci(boot, level)
    return Combined(value, (float(low), float(high)), float(stats.permutation_p(value, null)), boot)
