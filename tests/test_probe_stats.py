"""Statistics of the probes: a valid permutation null, bootstrap CIs, metrics, CKA."""

from __future__ import annotations

import numpy as np
from scipy.stats import kstest, spearmanr
from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score

from mimicry.probes.cka import linear_cka
from mimicry.probes.probing.cv import nested_splits
from mimicry.probes.probing.metrics import auroc, balanced_accuracy, r2, score_ci, spearman
from mimicry.probes.probing.probe import ProbeConfig, run_probe


def test_permutation_p_is_uniform_under_the_null():
    """30 pure-noise datasets: p-values are uniform (KS) and about 5% fall below 0.05."""
    config = ProbeConfig(n_boot=0, n_perm=49, n_control=1, alphas=(1.0, 100.0, 10000.0))
    p_values = []
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        x = rng.normal(size=(60, 10))
        y = rng.normal(size=60)
        groups = np.arange(60) % 12
        tasks = np.where(np.arange(60) < 30, "a", "b")
        splits = nested_splits(groups, 4, seed=seed)
        config.seed = seed
        (r2_result, _) = run_probe(x, y, "continuous", tasks, splits, config)
        p_values.append(r2_result.p_value)
    p_values = np.array(p_values)
    assert kstest(p_values, "uniform").pvalue > 0.01
    assert np.mean(p_values < 0.05) <= 0.2
    assert 0.3 < np.mean(p_values) < 0.7


def test_metrics_equal_sklearn_and_scipy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    pred = y + rng.normal(size=50)
    assert np.isclose(r2(y, pred), r2_score(y, pred))
    assert np.isclose(spearman(y, pred), spearmanr(y, pred).statistic)
    labels = (y > 0).astype(int)
    assert np.isclose(auroc(labels, pred), roc_auc_score(labels, pred))
    classes = np.digitize(y, [-0.5, 0.5])
    guess = np.digitize(pred, [-0.5, 0.5])
    assert np.isclose(balanced_accuracy(classes, guess, 3), balanced_accuracy_score(classes, guess))


def test_bootstrap_ci_covers_the_score_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (50, 800):
        y = rng.normal(size=n)
        pred = y + rng.normal(size=n)
        low, high = score_ci("r2", y, pred, n_boot=400, seed=0)
        assert low < r2(y, pred) < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_linear_cka_equals_the_hsic_formula():
    rng = np.random.default_rng(2)
    for n, d1, d2 in ((30, 50, 20), (80, 5, 7)):
        x = rng.normal(size=(n, d1))
        y = x[:, :1] @ rng.normal(size=(1, d2)) + rng.normal(size=(n, d2))
        h = np.eye(n) - np.ones((n, n)) / n
        k, l_ = x @ x.T, y @ y.T
        direct = np.trace(k @ h @ l_ @ h) / np.sqrt(
            np.trace(k @ h @ k @ h) * np.trace(l_ @ h @ l_ @ h)
        )
        assert np.isclose(linear_cka(x, y), direct, atol=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert np.isclose(linear_cka(x[:, :5] @ q, x[:, :5] * 3.0), 1.0)
