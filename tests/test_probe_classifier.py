"""The ridge classifier probe equals scikit-learn's RidgeClassifier in GridSearchCV on the same folds,
for every label column at once (real, control and permuted labels share one path)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mimicry.probes.config import ProbeConfig
from mimicry.probes.probing.cv import nested_splits
from mimicry.probes.probing.probe import run_probe
from mimicry.probes.probing.ridge_classifier import ridge_classifier_nested_cv

ALPHAS = np.logspace(-2, 4, 7)


def _classes(n, d, n_classes, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 5, size=d) + rng.normal(size=d)
    x[:, 3] = 7.0  # a constant feature: StandardScaler keeps scale 1
    signal = x[:, 0] / x[:, 0].std() - 0.5 * x[:, 1] / x[:, 1].std() + rng.normal(size=n)
    cuts = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
    return x, np.digitize(signal, cuts)


def _reference(x, y, groups, splits, scoring, n_classes):
    """Out-of-fold outputs and chosen alphas of GridSearchCV(RidgeClassifier) per outer fold."""
    out, chosen = np.zeros(len(y)), []
    for train, test, _ in splits:
        search = GridSearchCV(
            make_pipeline(StandardScaler(), RidgeClassifier()),
            {"ridgeclassifier__alpha": ALPHAS},
            cv=GroupKFold(5, shuffle=True, random_state=3),
            scoring=scoring,
        ).fit(x[train], y[train], groups=groups[train])
        if n_classes == 2:
            # sklearn codes the classes -1/+1; ours 0/1: the same fit, decision = 2 * ours - 1
            out[test] = (search.decision_function(x[test]) + 1) / 2
        else:
            out[test] = search.predict(x[test])
        chosen.append(search.best_params_["ridgeclassifier__alpha"])
    return out, chosen


@pytest.mark.parametrize("n,d", [(150, 300), (150, 12)])  # kernel path and primal path
@pytest.mark.parametrize("n_classes,scoring", [(2, "roc_auc"), (3, "balanced_accuracy")])
def test_ridge_classifier_equals_gridsearchcv_for_every_label_column(n, d, n_classes, scoring):
    x, y = _classes(n, d, n_classes, seed=n_classes)
    groups = np.arange(n) % 15
    splits = nested_splits(groups, 5, seed=3)
    rng = np.random.default_rng(9)
    columns = np.column_stack([y, rng.permutation(y), rng.permutation(y)])
    ours = ridge_classifier_nested_cv(x, columns, splits, ALPHAS, n_classes)
    assert ours.oof.shape == (n, 3)
    for column in range(3):
        reference, alphas = _reference(x, columns[:, column], groups, splits, scoring, n_classes)
        assert [ALPHAS[i] for i in ours.alpha_index[:, column]] == alphas
        np.testing.assert_allclose(ours.oof[:, column], reference, atol=1e-6, rtol=0)
    assert (ours.one_class_folds == 0).all()


def test_a_training_fold_with_one_class_is_counted_and_predicts_that_class():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = np.array([0] * 10 + [1] * 30)
    groups = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10).astype(str)
    splits = nested_splits(groups, 4, 0)
    result = ridge_classifier_nested_cv(x, y, splits, ALPHAS, 2)
    assert result.one_class_folds.tolist() == [1]
    assert np.isfinite(result.oof).all()
    np.testing.assert_allclose(result.oof[:10], 1.0)  # trained on 1s only: a constant 1


def test_class_probe_finds_signal_and_its_null_and_control_do_not():
    x, y = _classes(200, 64, 2, seed=5)
    tasks = np.array(["a", "b"] * 100)
    splits = nested_splits(np.arange(200) % 20, 5, seed=0)
    config = ProbeConfig(n_perm=100, n_boot=200)
    (result,) = run_probe(x, y, "class", tasks, splits, config, n_classes=2)
    assert result.metric == "auroc"
    assert result.score > 0.65 and result.ci_low > 0.6
    assert abs(result.control_score - 0.5) < 0.15
    assert result.p_value == pytest.approx(1 / 101)
    assert abs(np.mean(result.null_scores) - 0.5) < 0.05
    # the logistic probe stays available and agrees on what is there
    (logistic,) = run_probe(
        x,
        y,
        "class",
        tasks,
        splits,
        config.model_copy(update={"class_probe": "logistic", "n_perm_logistic": 5}),
        n_classes=2,
    )
    assert logistic.score > 0.65
