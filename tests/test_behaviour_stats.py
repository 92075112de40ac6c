"""Resampling statistics against scipy and hand computations (parity and coverage)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mimicry.experiments.behaviour.alignment import Resampling, correlate_task
from mimicry.experiments.behaviour.combine import pooled_r, r_bar
from mimicry.experiments.behaviour.outliers import cooks_distance


def _data(n, rho, seed, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
    if ties:
        x = np.round(x, 0)
    return 300 + 50 * x, 1500 + 400 * y


def _tasks(seed=0, sizes=(12, 20, 30), level=0.95):
    rng = np.random.default_rng(seed)
    resampling = Resampling(seed=seed, n_boot=500, n_perm=500, level=level)
    out = []
    for k, n in enumerate(sizes):
        diff = rng.uniform(400, 3000, n) + 1000 * k
        cost = 50 * k + 0.05 * diff + rng.normal(0, 40, n)
        acc = rng.uniform(0.3, 1.0, (n, 1))
        ids = [f"t{k}_{i}" for i in range(n)]
        out.append(
            correlate_task(ids, cost[:, None], diff, acc, resampling, resampling.rng(str(k)))[0]
        )
    return out


def test_r_bar_is_fisher_mean_of_task_rs_with_a_ci_around_it():
    tasks = _tasks()
    combined = r_bar(tasks)
    hand = math.tanh(sum(math.atanh(t.r) for t in tasks) / len(tasks))
    assert combined.value == pytest.approx(hand, abs=1e-12)
    assert combined.ci[0] < combined.value < combined.ci[1]
    assert combined.p < 0.01
    for t in tasks:
        assert t.r == pytest.approx(sps.pearsonr(t.cost, t.difficulty)[0], abs=1e-9)
        assert t.rho == pytest.approx(sps.spearmanr(t.cost, t.difficulty)[0], abs=1e-9)


def test_pooled_r_equals_ols_with_task_dummies():
    tasks = _tasks(seed=1)
    cost = np.concatenate([t.cost for t in tasks])
    diff = np.concatenate([t.difficulty for t in tasks])
    task = np.concatenate([np.full(t.n, k) for k, t in enumerate(tasks)])
    dummies = (task[:, None] == np.arange(len(tasks))[None, :]).astype(float)
    design = np.column_stack([diff, dummies])
    coef, *_ = np.linalg.lstsq(design, cost, rcond=None)
    # Frisch-Waugh: residualise both on the dummies; the partial correlation follows from the slope.
    resid_diff = diff - dummies @ np.linalg.lstsq(dummies, diff, rcond=None)[0]
    resid_cost = cost - dummies @ np.linalg.lstsq(dummies, cost, rcond=None)[0]
    partial = coef[0] * np.sqrt(resid_diff @ resid_diff / (resid_cost @ resid_cost))
    combined = pooled_r(tasks)
    assert combined.value == pytest.approx(partial, abs=1e-9)
    assert combined.ci[0] < combined.value < combined.ci[1]
    # Pooling without fixed effects gives a different (inflated by between-task means) number.
    assert abs(sps.pearsonr(cost, diff)[0] - combined.value) > 0.01


def test_cooks_distance_equals_leave_one_out_refits():
    x, y = _data(15, 0.6, 8)
    y[3] += 2500
    design = np.column_stack([np.ones_like(x), x])
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    fitted = design @ beta
    s2 = np.sum((y - fitted) ** 2) / (15 - 2)
    expected = []
    for i in range(15):
        keep = np.arange(15) != i
        beta_i = np.linalg.lstsq(design[keep], y[keep], rcond=None)[0]
        expected.append(np.sum((fitted - design @ beta_i) ** 2) / (2 * s2))
    np.testing.assert_allclose(cooks_distance(x, y), expected, rtol=1e-9)
    assert np.argmax(cooks_distance(x, y)) == 3
