"""The rows of alignment.csv and summary.csv, from selections and task correlations."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mimicry.experiments.behaviour.alignment import TaskCorrelation
from mimicry.experiments.behaviour.combine import pooled_r, r_bar
from mimicry.experiments.behaviour.selection import (
    CORRECT_ONLY,
    MAIN,
    NO_NORM,
    Selection,
    combined_norm,
)

ALIGNMENT_COLUMNS = (
    "model",
    "task",
    "status",
    "n",
    "mean_cost",
    "pearson_r",
    "r_ci_low",
    "r_ci_high",
    "p_value",
    "spearman_rho",
    "spearman_ci_low",
    "spearman_ci_high",
    "spearman_p",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "n_excluded",
    "n_samples_unparsed",
    "p_exact",
    "n_boot_used",
    "correct_only_status",
    "correct_only_n",
    "correct_only_r",
    "correct_only_ci_low",
    "correct_only_ci_high",
    "correct_only_p",
    "difficulty_norm",
)

SUMMARY_COLUMNS = (
    "model",
    "n_tasks",
    "r_bar",
    "r_bar_ci_low",
    "r_bar_ci_high",
    "r_bar_p",
    "pooled_r",
    "pooled_ci_low",
    "pooled_ci_high",
    "pooled_p",
    "correct_only_r",
    "correct_only_ci_low",
    "correct_only_ci_high",
    "correct_only_p",
    "n_items",
    "correct_only_n_tasks",
    "correct_only_n_items",
    "accuracy",
    "difficulty_norm",
)

TRANSFER_COLUMNS = (
    "student",
    "base",
    "task",
    "delta_r",
    "delta_r_ci_low",
    "delta_r_ci_high",
    "delta_r_p",
    "delta_acc",
    "delta_acc_ci_low",
    "delta_acc_ci_high",
    "n",
    "delta_acc_p",
    "student_r",
    "base_r",
    "student_accuracy",
    "base_accuracy",
    "difficulty_norm",
)

NAN = float("nan")

Key = tuple[str, str, str]  # (analysis, model, task)


def alignment_table(
    selections: Mapping[Key, Selection], results: Mapping[Key, TaskCorrelation]
) -> pd.DataFrame:
    """One row per model x task the model has traces for (left-out tasks keep a row with their
    status and NaN statistics, so nothing disappears from the table)."""
    rows = []
    for (analysis, model, task), sel in sorted(selections.items()):
        if analysis != MAIN:
            continue
        res = results.get((MAIN, model, task))
        alt_sel = selections[(CORRECT_ONLY, model, task)]
        alt = results.get((CORRECT_ONLY, model, task))
        rows.append(
            {
                "model": model,
                "task": task,
                "status": sel.status,
                "n": sel.n,
                "mean_cost": res.mean_cost if res else NAN,
                "pearson_r": res.r if res else NAN,
                "r_ci_low": res.r_ci[0] if res else NAN,
                "r_ci_high": res.r_ci[1] if res else NAN,
                "p_value": res.p if res else NAN,
                "spearman_rho": res.rho if res else NAN,
                "spearman_ci_low": res.rho_ci[0] if res else NAN,
                "spearman_ci_high": res.rho_ci[1] if res else NAN,
                "spearman_p": res.rho_p if res else NAN,
                "accuracy": res.accuracy if res else NAN,
                "accuracy_ci_low": res.accuracy_ci[0] if res else NAN,
                "accuracy_ci_high": res.accuracy_ci[1] if res else NAN,
                "n_excluded": sel.n_excluded,
                "n_samples_unparsed": sel.n_samples_unparsed,
                "p_exact": bool(res.p_exact) if res else False,
                "n_boot_used": res.n_boot_used if res else 0,
                "correct_only_status": alt_sel.status,
                "correct_only_n": alt_sel.n,
                "correct_only_r": alt.r if alt else NAN,
                "correct_only_ci_low": alt.r_ci[0] if alt else NAN,
                "correct_only_ci_high": alt.r_ci[1] if alt else NAN,
                "correct_only_p": alt.p if alt else NAN,
                "difficulty_norm": sel.difficulty_norm,
            }
        )
    return pd.DataFrame(rows, columns=list(ALIGNMENT_COLUMNS))


def summary_table(
    models: list[str],
    results: Mapping[Key, TaskCorrelation],
    level: float,
    *,
    norms: Mapping[tuple[str, str], str] | None = None,
    standardise: bool = False,
) -> pd.DataFrame:
    """One row per model: r-bar, pooled fixed-effects r and the correct-only r-bar.

    Args:
        models: the models, one row each.
        results: task correlations keyed by (analysis, model, task).
        level: confidence level of the intervals.
        norms: (model, task) -> difficulty norm; a row's `difficulty_norm` joins those of the
            tasks in its r-bar ("rt+error" when they differ).
        standardise: z-score difficulty within task for the pooled r (needed when tasks use
            norms in different units; see `combine.pooled_r`).
    """
    norms = norms or {}
    rows = []
    for model in models:
        main = [res for (a, m, _), res in sorted(results.items()) if a == MAIN and m == model]
        tasks = [t for (a, m, t) in sorted(results) if a == MAIN and m == model]
        alt = [
            res for (a, m, _), res in sorted(results.items()) if a == CORRECT_ONLY and m == model
        ]
        bar, alt_bar = r_bar(main, level), r_bar(alt, level)
        pooled = pooled_r(main, level, standardise=standardise)
        n_items = sum(t.n for t in main)
        rows.append(
            {
                "model": model,
                "n_tasks": len(main),
                "r_bar": bar.value,
                "r_bar_ci_low": bar.ci[0],
                "r_bar_ci_high": bar.ci[1],
                "r_bar_p": bar.p,
                "pooled_r": pooled.value,
                "pooled_ci_low": pooled.ci[0],
                "pooled_ci_high": pooled.ci[1],
                "pooled_p": pooled.p,
                "correct_only_r": alt_bar.value,
                "correct_only_ci_low": alt_bar.ci[0],
                "correct_only_ci_high": alt_bar.ci[1],
                "correct_only_p": alt_bar.p,
                "n_items": n_items,
                "correct_only_n_tasks": len(alt),
                "correct_only_n_items": sum(t.n for t in alt),
                "accuracy": (sum(t.accuracy * t.n for t in main) / n_items) if n_items else NAN,
                "difficulty_norm": combined_norm(norms.get((model, t), NO_NORM) for t in tasks),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
