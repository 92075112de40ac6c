"""Fast ridge and logistic probes equal scikit-learn's estimators fitted on the same folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mimicry.data.errors import InputError
from mimicry.probes.probing.cv import grouped_splits, nested_splits
from mimicry.probes.probing.logistic import logistic_nested_cv
from mimicry.probes.probing.ridge import Moments, ridge_nested_cv, ridge_path_predict, shifted_solve

ALPHAS = np.logspace(-2, 4, 7)


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 5, size=d) + rng.normal(size=d)
    x[:, 3] = 7.0  # a constant feature: StandardScaler keeps scale 1
    y = x[:, 0] - 0.5 * x[:, 1] + rng.normal(size=n)
    return x, y


@pytest.mark.parametrize("n,d", [(60, 150), (150, 20)])  # kernel path and primal path
def test_ridge_path_equals_sklearn_ridge_for_every_alpha(n, d):
    x, y = _data(n, d)
    preds = ridge_path_predict(x[:40], np.column_stack([y[:40], -y[:40]]), x[40:], ALPHAS)
    for i, alpha in enumerate(ALPHAS):
        reference = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x[:40], y[:40])
        np.testing.assert_allclose(preds[i, :, 0], reference.predict(x[40:]), atol=1e-6, rtol=0)
        np.testing.assert_allclose(preds[i, :, 1], -reference.predict(x[40:]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("n,d", [(120, 200), (120, 10)])
def test_nested_ridge_equals_gridsearchcv_on_the_same_folds(n, d):
    x, y = _data(n, d, seed=1)
    groups = np.arange(n) % 15
    splits = nested_splits(groups, 5, seed=3)
    ours = ridge_nested_cv(x, y, splits, ALPHAS)
    reference = np.zeros(n)
    for fold, (train, test, _) in enumerate(splits):
        search = GridSearchCV(
            make_pipeline(StandardScaler(), Ridge()),
            {"ridge__alpha": ALPHAS},
            cv=GroupKFold(5, shuffle=True, random_state=3),
        ).fit(x[train], y[train], groups=groups[train])
        reference[test] = search.predict(x[test])
        assert ALPHAS[ours.alpha_index[fold, 0]] == search.best_params_["ridge__alpha"]
    np.testing.assert_allclose(ours.oof, reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("n_classes,scoring", [(2, "roc_auc"), (3, "balanced_accuracy")])
def test_nested_logistic_equals_gridsearchcv_on_the_same_folds(n_classes, scoring):
    x, y_cont = _data(90, 8, seed=2)
    y = np.digitize(y_cont, np.quantile(y_cont, np.linspace(0, 1, n_classes + 1)[1:-1]))
    groups = np.arange(90) % 10
    cs = np.array([0.01, 0.1, 1.0])
    splits = nested_splits(groups, 3, seed=0)
    ours = logistic_nested_cv(x, y, splits, cs, seed=0)
    reference = np.zeros(90)
    for fold, (train, test, _) in enumerate(splits):
        search = GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0)),
            {"logisticregression__C": cs},
            cv=GroupKFold(3, shuffle=True, random_state=0),
            scoring=scoring,
        ).fit(x[train], y[train], groups=groups[train])
        out = search.decision_function(x[test]) if n_classes == 2 else search.predict(x[test])
        reference[test] = out
        assert cs[ours.c_index[fold]] == search.best_params_["logisticregression__C"]
    np.testing.assert_allclose(ours.oof, reference, atol=1e-6, rtol=0)


def test_fewer_groups_than_folds_is_an_input_error():
    with pytest.raises(InputError, match="only 3 distinct groups for 5"):
        grouped_splits(np.array([0, 0, 1, 1, 2, 2]), 5, seed=0)


def test_grouped_cv_blocks_a_template_shortcut_that_plain_kfold_rewards():
    """Features encode the template id and the target is a template-level value: KFold sees the
    template in training and 'predicts' the target; grouped CV has never seen the template."""
    rng = np.random.default_rng(0)
    n_groups, per_group, d = 30, 6, 40
    groups = np.repeat(np.arange(n_groups), per_group)
    template_code = rng.normal(size=(n_groups, d))
    x = template_code[groups] + 0.1 * rng.normal(size=(len(groups), d))
    y = rng.normal(size=n_groups)[groups] + 0.1 * rng.normal(size=len(groups))
    grouped = ridge_nested_cv(x, y, nested_splits(groups, 5, seed=0), ALPHAS)
    plain_outer = KFold(5, shuffle=True, random_state=0).split(x)
    plain = [
        (tr, te, list(KFold(5, shuffle=True, random_state=0).split(tr))) for tr, te in plain_outer
    ]
    leaky = ridge_nested_cv(x, y, plain, ALPHAS)

    def r2(pred):
        return 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()

    assert r2(leaky.oof) > 0.8
    assert r2(grouped.oof) < 0.1


@pytest.mark.parametrize("m,t", [(40, 1), (3, 60)])  # solutions rotated back / left rotated
@pytest.mark.parametrize("factored", [False, True])
@pytest.mark.parametrize("method", ["band", "tridiagonal", "cholesky", None])
def test_shifted_solve_equals_a_direct_solve_per_alpha(m, t, factored, method):
    rng = np.random.default_rng(4)
    z = rng.normal(size=(150, 200)) * rng.uniform(0.1, 3, size=200)
    gram = z @ z.T  # 150 > BAND + 1, so the band reduction is used
    rhs = rng.normal(size=(150, t))
    left_outer = rng.normal(size=(m, 200))
    left = (left_outer, z.T) if factored else left_outer @ z.T
    preds = shifted_solve(gram, rhs, left, ALPHAS, method)
    for i, alpha in enumerate(ALPHAS):
        reference = (left_outer @ z.T) @ np.linalg.solve(gram + alpha * np.eye(150), rhs)
        np.testing.assert_allclose(preds[i], reference, atol=1e-8, rtol=1e-8)


@pytest.mark.parametrize("n,d", [(200, 260), (260, 90)])  # band-reduced kernel and primal paths
def test_band_ridge_path_equals_sklearn_ridge(n, d):
    x, y = _data(n, d, seed=5)
    x += 1e4  # a large common offset: standardisation must not lose precision
    preds = ridge_path_predict(x[:180], y[:180, None], x[180:], ALPHAS)
    for i, alpha in enumerate(ALPHAS):
        reference = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x[:180], y[:180])
        np.testing.assert_allclose(preds[i, :, 0], reference.predict(x[180:]), atol=1e-6, rtol=0)


def test_downdated_moments_equal_the_fold_computed_directly():
    x, _ = _data(300, 30, seed=6)
    x -= x.mean(axis=0)
    test = np.arange(0, 300, 7)
    train = np.setdiff1d(np.arange(300), test)
    downdated = Moments.of(x).without(x[test])
    direct = Moments.of(x[train])
    assert downdated.n == direct.n == len(train)
    np.testing.assert_allclose(downdated.cross, direct.cross, atol=1e-9, rtol=1e-12)
    np.testing.assert_allclose(downdated.sums, direct.sums, atol=1e-9, rtol=1e-12)


def test_nested_ridge_with_downdated_primal_folds_equals_gridsearchcv():
    """n > d in outer and inner folds, so every fold's covariance is a downdate; features carry
    large, unequal offsets and one is constant."""
    x, y = _data(200, 12, seed=7)
    x += np.linspace(-5e3, 5e3, 12)
    groups = np.arange(200) % 20
    splits = nested_splits(groups, 5, seed=2)
    ours = ridge_nested_cv(x, np.column_stack([y, y[::-1]]), splits, ALPHAS)
    for column, target in enumerate([y, y[::-1]]):
        reference = np.zeros(200)
        for fold, (train, test, _) in enumerate(splits):
            search = GridSearchCV(
                make_pipeline(StandardScaler(), Ridge()),
                {"ridge__alpha": ALPHAS},
                cv=GroupKFold(5, shuffle=True, random_state=2),
            ).fit(x[train], target[train], groups=groups[train])
            reference[test] = search.predict(x[test])
            assert ALPHAS[ours.alpha_index[fold, column]] == search.best_params_["ridge__alpha"]
        np.testing.assert_allclose(ours.oof[:, column], reference, atol=1e-6, rtol=0)


def test_a_fold_whose_training_part_has_one_class_is_counted_not_fatal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = np.array([0] * 10 + [1] * 30)
    groups = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10).astype(str)
    splits = nested_splits(groups, 4, 0)
    result = logistic_nested_cv(x, y, splits, np.array([0.1, 1.0]), seed=0)
    # the fold that holds out every 0 trains on 1s only: uninformative output, counted
    assert result.n_degenerate_folds == 1
    assert np.isfinite(result.oof).all()
    assert (result.oof[:10] == 0).all()
