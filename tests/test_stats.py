"""The one statistics module against scipy, closed forms and plain loops over the same draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mimicry.data import stats


def _data(n, rho, seed, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
    if ties:
        x = np.round(x, 0)
    return 300 + 50 * x, 1500 + 400 * y


# --- point correlations -------------------------------------------------------------------------


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
def test_rowwise_correlations_equal_scipy_per_row(ties):
    """axis=-1: row b of `a` with row b of `c`, the form resampled statistics take."""
    rng = np.random.default_rng(11)
    a = rng.normal(size=(7, 30))
    c = 0.5 * a + rng.normal(size=(7, 30))
    if ties:
        a = np.round(a)
    r = stats.pearson(a, c, axis=-1)
    rho = stats.spearman(a, c, axis=-1)
    assert r.shape == rho.shape == (7,)
    for b in range(7):
        assert r[b] == pytest.approx(sps.pearsonr(a[b], c[b])[0], abs=1e-12)
        assert rho[b] == pytest.approx(sps.spearmanr(a[b], c[b])[0], abs=1e-12)
    # the same numbers along axis 0 of the transposed arrays
    np.testing.assert_allclose(stats.pearson(a.T, c.T), r, atol=1e-14)


def test_constant_variables_give_nan():
    x, y = _data(5, 0.5, 4)
    assert np.isnan(stats.pearson(np.ones((5, 1)), y)[0])
    assert np.isnan(stats.spearman(np.full(5, 0.1), y))
    assert stats.is_constant(np.full(6, 0.1)) and not stats.is_constant(x)
    rows = np.stack([x, np.full(5, 3.0)])
    r = stats.pearson(rows, np.stack([y, y]), axis=-1)
    assert r[0] == pytest.approx(sps.pearsonr(x, y)[0]) and np.isnan(r[1])


# --- weighted (resampled) correlations ----------------------------------------------------------


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


def test_resample_counts_equal_bincount_per_row():
    idx = stats.bootstrap_indices(np.random.default_rng(5), 20, 9)
    counts = stats.resample_counts(idx, 9)
    for b, row in enumerate(idx):
        np.testing.assert_array_equal(counts[b], np.bincount(row, minlength=9))


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


def test_permutation_null_equals_pearson_of_each_permutation():
    x, y = _data(12, 0.3, 9)
    perms = stats.permutation_indices(np.random.default_rng(2), 40, 12)
    null = stats.permutation_null(x[:, None], y, perms)[:, 0]
    np.testing.assert_allclose(null, [sps.pearsonr(x, y[p])[0] for p in perms], atol=1e-12)
    assert all(sorted(p) == list(range(12)) for p in perms)


# --- permutation p: one convention --------------------------------------------------------------


def _brute_p(observed, null, alternative, exact=False):
    if alternative == "two-sided":
        hits = sum(abs(v) >= abs(observed) - 1e-12 for v in null)
    elif alternative == "greater":
        hits = sum(v >= observed - 1e-12 for v in null)
    else:
        hits = sum(v <= observed + 1e-12 for v in null)
    return hits / len(null) if exact else (1 + hits) / (1 + len(null))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_permutation_p_equals_a_brute_force_count(alternative):
    rng = np.random.default_rng(4)
    null = rng.normal(size=500)
    for observed in (-2.1, -0.3, 0.0, 0.4, 1.7, float(null[17])):
        p = stats.permutation_p(observed, null, alternative=alternative)
        assert isinstance(p, float)
        assert p == pytest.approx(_brute_p(observed, null, alternative), abs=1e-15)
        exact = stats.permutation_p(observed, null, alternative=alternative, exact=True)
        assert exact == pytest.approx(_brute_p(observed, null, alternative, exact=True))


def test_permutation_p_takes_observed_first_and_is_two_sided_by_default():
    null = np.array([-3.0, -1.0, 0.5, 0.6, 2.5])
    assert stats.permutation_p(-2.0, null) == pytest.approx((1 + 2) / 6)  # |-3|, |2.5|
    assert stats.permutation_p(-2.0, null, alternative="greater") == pytest.approx((1 + 4) / 6)
    assert stats.permutation_p(-2.0, null, alternative="less") == pytest.approx((1 + 1) / 6)
    with pytest.raises(ValueError, match="alternative"):
        stats.permutation_p(0.0, null, alternative="both")


def test_permutation_p_is_vectorised_and_ignores_nan_null_values():
    null = np.array([[0.1, np.nan], [0.5, 0.2], [-0.9, 0.3], [np.nan, np.nan]])
    p = stats.permutation_p(np.array([0.4, np.nan]), null)
    assert p[0] == pytest.approx((1 + 2) / (1 + 3)) and np.isnan(p[1])
    assert math.isnan(stats.permutation_p(0.3, np.zeros(0)))
    assert math.isnan(stats.permutation_p(0.3, np.full(4, np.nan), alternative="greater"))


def test_exact_permutation_p_equals_scipy_exact():
    x, y = _data(6, 0.6, 5)
    every = stats.all_permutations(6)
    assert len(every) == 720 and stats.can_enumerate(6, 720) and not stats.can_enumerate(6, 719)
    r = stats.pearson(x[:, None], y)
    p = stats.permutation_p(r, stats.permutation_null(x[:, None], y, every), exact=True)[0]
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
        stats.pearson(x[:, None], y), stats.permutation_null(x[:, None], y, perms)
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


def test_permutations_stay_within_task():
    tasks = np.array(["a"] * 5 + ["b"] * 7)
    perms = stats.permutation_matrix(tasks, 20, seed=0)
    for perm in perms:
        assert (tasks[perm] == tasks).all()
        assert sorted(perm) == list(range(12))
    assert not (perms == np.arange(12)).all()
    np.testing.assert_array_equal(perms, stats.permutation_matrix(tasks, 20, seed=0))
    assert stats.permutation_matrix(tasks, 0, seed=0).shape == (0, 12)


# --- bootstrap ----------------------------------------------------------------------------------


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


def test_generic_bootstrap_ci_equals_a_plain_loop_with_the_same_rng():
    x, y = _data(30, 0.4, 12)
    low, high = stats.bootstrap_ci(
        lambda a, b: stats.spearman(a, b, axis=-1), x, y, n_boot=400, seed=3, level=0.9
    )
    rng = np.random.default_rng(3)
    loop = [sps.spearmanr(x[i], y[i])[0] for i in rng.integers(0, 30, size=(400, 30))]
    assert (low, high) == pytest.approx(tuple(np.percentile(loop, [5, 95])), abs=1e-12)
    assert all(math.isnan(v) for v in stats.bootstrap_ci(np.mean, x, n_boot=0, seed=0))


def test_bootstrap_p_and_nan_aware_percentiles():
    deltas = np.array([0.1, 0.2, 0.3, np.nan, -0.1])
    assert stats.bootstrap_p(deltas) == pytest.approx(2 * (1 + 1) / (4 + 1))
    low, high = stats.percentile_ci(deltas[:, None], level=0.5)
    assert low[0] == pytest.approx(np.percentile([0.1, 0.2, 0.3, -0.1], 25))
    assert high[0] == pytest.approx(np.percentile([0.1, 0.2, 0.3, -0.1], 75))
    assert all(np.isnan(v) for v in stats.percentile_ci(np.full(3, np.nan)))


def test_paired_bootstrap_equals_a_loop_and_is_narrower_than_unpaired():
    rng = np.random.default_rng(8)
    difficulty = rng.normal(size=40)
    a = (difficulty + 0.5 * rng.normal(size=40), difficulty)
    b = (a[0] + 0.8 * rng.normal(size=40), difficulty)
    r_rows = lambda u, v: stats.pearson(u, v, axis=-1)  # noqa: E731
    d = stats.paired_bootstrap(r_rows, a, b, n_boot=500, seed=1)
    assert d.n == 40
    assert d.estimate == pytest.approx(sps.pearsonr(*a)[0] - sps.pearsonr(*b)[0], abs=1e-12)
    index = np.random.default_rng(1).integers(0, 40, size=(500, 40))
    loop = np.array([sps.pearsonr(a[0][i], a[1][i])[0] - sps.pearsonr(b[0][i], b[1][i])[0]
                     for i in index])  # fmt: skip
    assert (d.ci_low, d.ci_high) == pytest.approx(tuple(np.percentile(loop, [2.5, 97.5])))
    assert d.p_value == pytest.approx(float(stats.bootstrap_p(loop)))
    assert d.ci_low < d.estimate < d.ci_high and d.ci_low > 0
    other = np.random.default_rng(2).integers(0, 40, size=(500, 40))
    unpaired = [sps.pearsonr(a[0][i], a[1][i])[0] - sps.pearsonr(b[0][j], b[1][j])[0]
                for i, j in zip(index, other, strict=True)]  # fmt: skip
    assert np.ptp(np.percentile(unpaired, [2.5, 97.5])) > d.ci_high - d.ci_low
    few = stats.paired_bootstrap(
        r_rows, (a[0][:3], a[1][:3]), (b[0][:3], b[1][:3]), n_boot=9, seed=0
    )
    assert few.n == 3 and math.isnan(few.estimate) and math.isnan(few.ci_low)


# --- Fisher z -----------------------------------------------------------------------------------


def test_fisher_mean_matches_hand_computation():
    r = np.array([0.3, 0.5, 0.7])
    hand = math.tanh((math.atanh(0.3) + math.atanh(0.5) + math.atanh(0.7)) / 3)
    assert stats.fisher_mean(r) == pytest.approx(hand, abs=1e-12)
    assert hand == pytest.approx(0.51934, abs=1e-4)
    assert np.isfinite(stats.fisher_z(np.array([-1.0, 1.0]))).all()
    grid = np.array([[0.1, 0.2], [0.3, 0.6]])
    np.testing.assert_allclose(stats.fisher_mean(grid, axis=1), np.tanh(np.arctanh(grid).mean(1)))


def test_fisher_ci_and_fisher_mean_ci_equal_their_closed_forms():
    z = sps.norm.ppf(0.975)
    low, high = stats.fisher_ci(0.42, 30)
    assert low == pytest.approx(math.tanh(math.atanh(0.42) - z / math.sqrt(27)), abs=1e-14)
    assert high == pytest.approx(math.tanh(math.atanh(0.42) + z / math.sqrt(27)), abs=1e-14)
    low90, _ = stats.fisher_ci(0.42, 30, level=0.9, n_covariates=1)
    q90 = sps.norm.ppf(0.95)
    assert low90 == pytest.approx(math.tanh(math.atanh(0.42) - q90 / math.sqrt(26)), abs=1e-14)
    assert all(np.isnan(v) for v in stats.fisher_ci(0.5, 3))
    r, n = np.array([0.2, 0.5, 0.4]), np.array([20, 50, 33])
    mean, lo, hi = stats.fisher_mean_ci(r, n)
    zs = np.arctanh(r)
    half = z * math.sqrt(sum(1 / (k - 3) for k in n)) / 3
    assert mean == pytest.approx(math.tanh(zs.mean()), abs=1e-14)
    assert (lo, hi) == pytest.approx((math.tanh(zs.mean() - half), math.tanh(zs.mean() + half)))


# --- the Correlation record ---------------------------------------------------------------------


def test_correlate_without_resampling_equals_scipy_and_fisher():
    x = [1, 2, 3, 4, 5, 6, 7, 8]
    y = [2, 1, 4, 3, 6, 8, 7, 9]
    corr = stats.correlate(x, y)
    reference = sps.pearsonr(x, y)
    assert corr.r == pytest.approx(reference.statistic)
    assert corr.p_value == pytest.approx(reference.pvalue)
    assert corr.ci_low < corr.r < corr.ci_high
    assert (corr.ci_low, corr.ci_high) == pytest.approx(stats.fisher_ci(corr.r, 8))
    assert (corr.method, corr.ci_method, corr.p_method, corr.n) == ("pearson", "fisher", "t", 8)
    assert math.isnan(stats.correlate([1, 1, 1, 1, 1], y[:5]).r)
    rho = stats.correlate(x, y, method="spearman")
    assert rho.r == pytest.approx(sps.spearmanr(x, y).statistic)
    assert rho.p_value == pytest.approx(sps.spearmanr(x, y).pvalue)
    assert stats.t_test_p(0.3, 20) == pytest.approx(
        sps.pearsonr(*_exact_r(0.3, 22)).pvalue, abs=1e-12
    )


def _exact_r(r, n):
    """Two variables whose sample Pearson r is exactly `r`."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, n))
    a = (a - a.mean()) / np.linalg.norm(a - a.mean())
    b = b - b.mean() - (b @ a) * a
    b /= np.linalg.norm(b)
    return a, r * a + math.sqrt(1 - r * r) * b


def test_correlate_resampled_equals_scipy_and_covers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    y = 0.5 * x + rng.normal(size=40)
    stat = stats.correlate(x, y, n_boot=2000, n_perm=2000, seed=0)
    reference = sps.pearsonr(x, y)
    assert stat.r == pytest.approx(reference.statistic, abs=1e-12)
    assert stat.ci_low < stat.r < stat.ci_high
    assert stat.p_value == pytest.approx(reference.pvalue, abs=0.02)
    assert (stat.ci_method, stat.p_method) == ("bootstrap", "permutation")
    null = stats.correlate(x, rng.normal(size=40), n_boot=200, n_perm=500, seed=0)
    assert null.p_value > 0.01


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlate_resampling_equals_a_plain_loop_with_the_same_rng(method):
    x, y = _data(20, 0.3, 13, ties=True)
    corr = stats.correlate(x, y, method=method, n_boot=300, n_perm=400, seed=5)
    scipy_r = sps.pearsonr if method == "pearson" else sps.spearmanr
    rng = np.random.default_rng(5)
    boot = [scipy_r(x[i], y[i])[0] for i in rng.integers(0, 20, size=(300, 20))]
    perms = rng.permuted(np.tile(np.arange(20), (400, 1)), axis=1)
    null = [scipy_r(x, y[p])[0] for p in perms]
    boot = [b for b in boot if np.isfinite(b)]
    assert (corr.ci_low, corr.ci_high) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])))
    assert corr.p_value == pytest.approx(_brute_p(corr.r, null, "two-sided"), abs=1e-12)
    assert corr == stats.correlate(x, y, method=method, n_boot=300, n_perm=400, seed=5)


def test_correlate_enumerates_every_permutation_when_they_fit():
    x, y = _data(5, 0.7, 14)
    corr = stats.correlate(x, y, n_perm=200, seed=0)
    ref = sps.permutation_test(
        (x,), lambda a: abs(sps.pearsonr(a, y)[0]), permutation_type="pairings",
        alternative="greater", n_resamples=np.inf, vectorized=False,
    )  # fmt: skip
    assert corr.p_method == "exact_permutation" and corr.p_value == pytest.approx(ref.pvalue)
    assert math.isnan(stats.correlate([1.0, 2.0], [3.0, 1.0]).r)


def test_as_dict_keeps_the_table_columns():
    row = stats.correlate([1, 2, 3, 4, 6], [1, 3, 2, 5, 4]).as_dict("r_feat_steps")
    assert list(row) == [f"r_feat_steps_{k}" for k in ("n", "r", "ci_low", "ci_high", "p_value")]


def test_partial_pearson_equals_the_textbook_formula():
    rng = np.random.default_rng(15)
    z = rng.normal(size=50)
    x = z + rng.normal(size=50)
    y = 0.5 * z + 0.4 * x + rng.normal(size=50)
    corr = stats.partial_pearson(x, y, z)
    rxy, rxz, ryz = sps.pearsonr(x, y)[0], sps.pearsonr(x, z)[0], sps.pearsonr(y, z)[0]
    textbook = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    assert corr.r == pytest.approx(textbook, abs=1e-12)
    t = textbook * math.sqrt(47 / (1 - textbook**2))
    assert corr.p_value == pytest.approx(2 * sps.t.sf(abs(t), 47), rel=1e-10)
    q = sps.norm.ppf(0.975)
    assert corr.ci_low == pytest.approx(math.tanh(math.atanh(textbook) - q / math.sqrt(46)))
    assert corr.method == "partial_pearson"
    assert math.isnan(stats.partial_pearson(x, 2 * z + 1, z).r)  # y is a function of z
    assert math.isnan(stats.partial_pearson(x[:4], y[:4], z[:4]).r)


# --- proportions --------------------------------------------------------------------------------


def test_wilson_interval_matches_its_closed_form():
    for k, n in ((0, 10), (7, 10), (45, 50), (50, 50)):
        p, z = k / n, 1.959963984540054
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low, high = stats.wilson_ci(k, n)
        assert abs(low - (centre - half)) < 1e-9 and abs(high - (centre + half)) < 1e-9


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_interval_equals_scipy_binomtest(level):
    for k, n in ((0, 1), (3, 17), (12, 12), (250, 400)):
        ref = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        assert stats.wilson_ci(k, n, level) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert all(math.isnan(v) for v in stats.wilson_ci(0, 0))
    with pytest.raises(ValueError, match="outside"):
        stats.wilson_ci(5, 4)


# --- the module itself --------------------------------------------------------------------------


def test_the_module_imports_nothing_of_ours_and_has_a_short_name():
    """Importable by every layer: only numpy, scipy, jaxtyping and its own submodules."""
    import ast
    from pathlib import Path

    import mimicry.stats

    allowed = {"numpy", "scipy", "jaxtyping", "__future__", "math", "itertools", "dataclasses"}
    allowed |= {"collections", "typing"}
    for path in Path(stats.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            for name in names:
                assert name.startswith("mimicry.data.stats") or name.split(".")[0] in allowed, (
                    path.name,
                    name,
                )
    assert mimicry.stats.correlate is stats.correlate
    assert sorted(mimicry.stats.__all__) == sorted(stats.__all__)
    assert all(hasattr(mimicry.stats, name) for name in stats.__all__)
