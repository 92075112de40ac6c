"""Resampling statistics against scipy and hand computations (parity and coverage)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mimicry.experiments.behaviour import stats
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


@pytest.mark.parametrize("ties", [False, True])
def test_pearson_and_spearman_equal_scipy(ties):
    x, y = _data(40, 0.4, 1, ties=ties)
    other = x[::-1] + np.arange(40)
    both = np.stack([x, other], axis=1)
    r = stats.pearson(both, y)
    rho = stats.spearman(both, y)
    for j, col in enumerate((x, other)):
        assert r[j] == pytest.approx(sps.pearsonr(col, y)[0], abs=1e-9)
        assert rho[j] == pytest.approx(sps.spearmanr(col, y)[0], abs=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_resamples_equal_scipy_on_the_same_indices(ties):
    x, y = _data(25, 0.5, 2, ties=ties)
    idx = stats.bootstrap_indices(np.random.default_rng(0), 300, 25)
    counts = stats.resample_counts(idx, 25)
    sw, sxx, syy, sxy = stats.centered_moments(counts, x[:, None], y)
    r = stats.correlation_from_moments(sw, sxx, syy, sxy, x.std(), y.std())[:, 0]
    rho = stats.weighted_spearman(counts, x[:, None], y)[:, 0]
    ref_r = np.array([sps.pearsonr(x[i], y[i])[0] for i in idx])
    ref_rho = np.array([sps.spearmanr(x[i], y[i])[0] for i in idx])
    np.testing.assert_allclose(r, ref_r, atol=1e-9)
    np.testing.assert_allclose(rho, ref_rho, atol=1e-9)
    np.testing.assert_allclose(sw, 25)


def test_weighted_ranks_equal_rankdata_of_the_resample():
    values = np.array([3.0, 1.0, 3.0, 2.0, 5.0, 1.0])
    idx = stats.bootstrap_indices(np.random.default_rng(3), 50, 6)
    ranks = stats.weighted_ranks(stats.resample_counts(idx, 6), values)
    for b, row in enumerate(idx):
        expected = sps.rankdata(values[row])
        np.testing.assert_allclose(ranks[b, row], expected)


def test_constant_resample_is_nan_not_a_number():
    x, y = _data(5, 0.5, 4)
    idx = np.array([[0, 0, 0, 0, 0], [0, 1, 2, 3, 4]])
    counts = stats.resample_counts(idx, 5)
    sw, sxx, syy, sxy = stats.centered_moments(counts, x[:, None], y)
    r = stats.correlation_from_moments(sw, sxx, syy, sxy, x.std(), y.std())[:, 0]
    assert np.isnan(r[0]) and r[1] == pytest.approx(sps.pearsonr(x, y)[0])
    assert np.isnan(stats.pearson(np.ones((5, 1)), y)[0])


def test_exact_permutation_p_equals_scipy_exact():
    x, y = _data(6, 0.6, 5)
    every = stats.all_permutations(6)
    assert len(every) == 720
    r = stats.pearson(x[:, None], y)
    p = stats.permutation_p(stats.permutation_null(x[:, None], y, every), r, exact=True)[0]
    ref = sps.permutation_test(
        (x,),
        lambda a: abs(sps.pearsonr(a, y)[0]),
        permutation_type="pairings",
        alternative="greater",
        n_resamples=np.inf,
        vectorized=False,
    )
    assert p == pytest.approx(ref.pvalue, abs=1e-12)


def test_monte_carlo_permutation_p_agrees_with_scipy():
    x, y = _data(30, 0.35, 6)
    perms = stats.permutation_indices(np.random.default_rng(0), 5000, 30)
    p = stats.permutation_p(
        stats.permutation_null(x[:, None], y, perms), stats.pearson(x[:, None], y)
    )
    ref = sps.permutation_test(
        (x,),
        lambda a, axis: np.abs(
            np.sum(sps.zscore(a, axis=axis) * sps.zscore(y), axis=axis) / len(y)
        ),
        permutation_type="pairings",
        alternative="greater",
        n_resamples=5000,
        vectorized=True,
        rng=1,
    )
    assert 0.005 < ref.pvalue < 0.5  # a p-value where Monte Carlo error matters
    assert p[0] == pytest.approx(ref.pvalue, abs=0.02)


def test_bootstrap_ci_covers_the_true_rho_about_95_percent():
    rho, n, hits, total = 0.5, 40, 0, 200
    rng = np.random.default_rng(7)
    for _ in range(total):
        xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
        x, y = xy[:, :1], xy[:, 1]
        counts = stats.resample_counts(stats.bootstrap_indices(rng, 1000, n), n)
        sw, sxx, syy, sxy = stats.centered_moments(counts, x, y)
        boot = stats.correlation_from_moments(sw, sxx, syy, sxy, x.std(), y.std())
        low, high = stats.percentile_ci(boot)
        hits += bool(low[0] <= rho <= high[0])
    assert 0.90 <= hits / total <= 0.99


def test_fisher_mean_matches_hand_computation():
    r = np.array([0.3, 0.5, 0.7])
    hand = math.tanh((math.atanh(0.3) + math.atanh(0.5) + math.atanh(0.7)) / 3)
    assert stats.fisher_mean(r) == pytest.approx(hand, abs=1e-12)
    assert hand == pytest.approx(0.51934, abs=1e-4)


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


def test_bootstrap_p_and_nan_aware_percentiles():
    deltas = np.array([0.1, 0.2, 0.3, np.nan, -0.1])
    assert stats.bootstrap_p(deltas) == pytest.approx(2 * (1 + 1) / (4 + 1))
    low, high = stats.percentile_ci(deltas[:, None], level=0.5)
    assert low[0] == pytest.approx(np.percentile([0.1, 0.2, 0.3, -0.1], 25))
    assert high[0] == pytest.approx(np.percentile([0.1, 0.2, 0.3, -0.1], 75))
