"""Grouped cross-validation splits: no template (item family) is ever on both sides of a split."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold

from mimicry.data.errors import InputError


def grouped_splits(
    groups: np.ndarray, n_folds: int, seed: int, *, what: str = "items"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold splits (shuffled by `seed`) as (train, test) index arrays.

    Raises InputError when there are fewer groups than folds: grouped CV would then be impossible,
    and silently falling back to plain KFold would let templates leak.
    """
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_folds < 2:
        raise InputError(f"need at least 2 folds, got {n_folds}", field="folds")
    if n_groups < n_folds:
        raise InputError(
            f"{what}: only {n_groups} distinct groups for {n_folds} grouped folds; "
            "lower --folds or add a finer 'group' column",
            field="group",
        )
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    placeholder = np.zeros((len(groups), 1))
    return [(train, test) for train, test in splitter.split(placeholder, groups=groups)]


def inner_fold_count(groups: np.ndarray, n_folds: int) -> int:
    """Inner folds for choosing regularisation: as many as asked, capped by the groups available."""
    return min(n_folds, len(np.unique(groups)))


def nested_splits(
    groups: np.ndarray, n_folds: int, seed: int, *, inner_folds: int | None = None
) -> list[tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]]:
    """Outer grouped splits, each with grouped inner splits of its training part.

    Inner indices are positions within the outer training indices (as GridSearchCV sees them).
    """
    outer = grouped_splits(groups, n_folds, seed, what="outer CV")
    result = []
    for train, test in outer:
        inner_groups = np.asarray(groups)[train]
        k = inner_fold_count(inner_groups, inner_folds or n_folds)
        inner = grouped_splits(inner_groups, k, seed, what="inner CV")
        result.append((train, test, inner))
    return result
