"""report.md for the behaviour stage: the tables (n, CI and p everywhere), the exclusions, the
methods in one paragraph, and one cost-vs-difficulty scatter per model x task."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mimicry.data.exclusions import Exclusions

FIGURE_DIR = "figures"
DIFFICULTY_LABELS = {"rt": "human RT (ms)", "error": "human error rate"}


def markdown_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub markdown table; floats with 3 decimals (p-values in 3 significant digits)."""
    columns = list(columns or frame.columns)
    if frame.empty:
        return "_(none)_\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame[columns].iterrows():
        lines.append("| " + " | ".join(_cell(c, row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(column: str, value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if column.endswith("_p") or column == "p_value":
            return f"{value:.3g}"
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")


def _interval(frame: pd.DataFrame, value: str, low: str, high: str, label: str) -> pd.DataFrame:
    """Merge value and CI columns into one 'v [lo, hi]' column for readability."""
    text = [
        "–" if math.isnan(v) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
        for v, lo, hi in zip(frame[value], frame[low], frame[high], strict=True)
    ]
    return frame.assign(**{label: text})


def safe_name(text: str) -> str:
    """A file-name-safe version of a model or task name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


def write_scatter(path: Path, result, model: str, task: str, cost_label: str, diff_label: str):
    """Scatter of per-item cost against difficulty with the least-squares line and r, CI, p."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x, y = result.difficulty, result.cost
    ax.scatter(x, y, s=12, alpha=0.7)
    slope, intercept = np.polyfit(x, y, 1)
    grid = np.linspace(x.min(), x.max(), 2)
    ax.plot(grid, intercept + slope * grid, color="black", linewidth=1)
    ax.set_xlabel(diff_label)
    ax.set_ylabel(cost_label)
    ax.set_title(
        f"{model} · {task}\nr={result.r:.2f} [{result.r_ci[0]:.2f}, {result.r_ci[1]:.2f}], "
        f"p={result.p:.3g}, n={result.n}",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path)


def write_report(
    out: Path,
    *,
    alignment: pd.DataFrame,
    summary: pd.DataFrame,
    transfer: pd.DataFrame,
    exclusions: Exclusions,
    options,
    scatter: Mapping[tuple[str, str], object],
    token_source: str,
    inflation: pd.DataFrame | None = None,
    wrong_right: pd.DataFrame | None = None,
) -> Path:
    """Write `report.md` and `figures/*.png` into `out`."""
    level = int(round(options.level * 100))
    cost_label = "mean log(1 + reasoning tokens)" if options.log_cost else "mean reasoning tokens"
    if options.difficulty == "auto":
        diff_label = (
            "per task, human RT (ms) where the task has RT norms, else the human error rate "
            "(1 - accuracy; column `difficulty_norm`; the pooled r z-scores difficulty within "
            "task, since the norms have different units)"
        )
    else:
        diff_label = DIFFICULTY_LABELS[options.difficulty]
    norm_of = {(r.model, r.task): r.difficulty_norm for r in alignment.itertuples()}
    figures = []
    if scatter:
        (out / FIGURE_DIR).mkdir(exist_ok=True)
        for (model, task), result in sorted(scatter.items()):
            name = f"{FIGURE_DIR}/scatter_{safe_name(model)}__{safe_name(task)}.png"
            label = DIFFICULTY_LABELS.get(norm_of.get((model, task)), diff_label)
            write_scatter(out / name, result, model, task, cost_label, label)
            figures.append((model, task, name))

    align = _interval(alignment, "pearson_r", "r_ci_low", "r_ci_high", f"r [{level}% CI]")
    align = _interval(align, "spearman_rho", "spearman_ci_low", "spearman_ci_high", "rho [CI]")
    align = _interval(align, "accuracy", "accuracy_ci_low", "accuracy_ci_high", "accuracy [CI]")
    align = _interval(
        align, "correct_only_r", "correct_only_ci_low", "correct_only_ci_high", "correct-only r"
    )
    summ = _interval(summary, "r_bar", "r_bar_ci_low", "r_bar_ci_high", f"r-bar [{level}% CI]")
    summ = _interval(summ, "pooled_r", "pooled_ci_low", "pooled_ci_high", "pooled FE r [CI]")
    summ = _interval(
        summ, "correct_only_r", "correct_only_ci_low", "correct_only_ci_high", "correct-only r-bar"
    )
    trans = _interval(transfer, "delta_r", "delta_r_ci_low", "delta_r_ci_high", "Δr [CI]")
    trans = _interval(trans, "delta_acc", "delta_acc_ci_low", "delta_acc_ci_high", "Δacc [CI]")

    parts = [
        "# Behavioural alignment: reasoning cost vs human difficulty\n",
        "## Method\n",
        f"Cost per item: {cost_label} over the samples with an answer (token counts from "
        f"{token_source}). Difficulty: {diff_label}. Per model and task: Pearson r and Spearman "
        f"rho with {level}% percentile bootstrap CIs over items ({options.n_boot} resamples; "
        "resamples where a variable is constant are left out, `n_boot_used`), two-sided "
        f"permutation p on |r| ({options.n_perm} permutations, p = (1 + hits) / (1 + n_perm); "
        "exact enumeration when n! fits, `p_exact`). Accuracy is the mean over items of the "
        "fraction of samples marked correct (samples without an answer count as wrong). "
        "r-bar = tanh(mean over tasks of arctanh r), unweighted; pooled r correlates cost and "
        "difficulty after removing each task's mean from both (task fixed effects). Their CIs "
        "resample items within tasks and their p-values permute difficulty within tasks. The "
        "correct-only analysis uses the cost of correct samples only; items without one are "
        "excluded and counted. Transfer: student minus base on the items analysed for both, "
        "paired bootstrap CI (same items resampled for both) and two-sided bootstrap p. "
        f"Tasks with fewer than {options.min_items} usable items are left out and counted. "
        f"Outlier rule: {options.outliers}"
        + (
            " (Cook's distance D > 4/n in the fit cost ~ difficulty, one pass)."
            if options.outliers == "cooks"
            else "."
        )
        + f" Seed {options.seed}.\n",
        "## Summary per model\n",
        markdown_table(
            summ,
            [
                "model",
                "n_tasks",
                "n_items",
                f"r-bar [{level}% CI]",
                "r_bar_p",
                "pooled FE r [CI]",
                "pooled_p",
                "correct-only r-bar",
                "correct_only_p",
                "correct_only_n_items",
                "accuracy",
            ],
        ),
        "## Per model and task\n",
        markdown_table(
            align,
            [
                "model",
                "task",
                "difficulty_norm",
                "status",
                "n",
                "mean_cost",
                f"r [{level}% CI]",
                "p_value",
                "rho [CI]",
                "spearman_p",
                "accuracy [CI]",
                "correct-only r",
                "correct_only_p",
                "correct_only_n",
                "n_excluded",
                "n_samples_unparsed",
            ],
        ),
        "## Transfer (student minus base)\n",
        markdown_table(
            trans,
            [
                "student",
                "base",
                "task",
                "n",
                "student_r",
                "base_r",
                "Δr [CI]",
                "delta_r_p",
                "Δacc [CI]",
                "delta_acc_p",
            ],
        ),
        *_inflation_part(inflation, options, level),
        *_wrong_right_part(wrong_right, level),
        f"## Exclusions ({exclusions.total()} in all)\n",
        markdown_table(pd.DataFrame(exclusions.rows())),
    ]
    if figures:
        parts.append("## Scatter plots\n")
        parts.extend(f"![{model} · {task}]({name})\n" for model, task, name in figures)
    path = out / "report.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _inflation_part(inflation: pd.DataFrame | None, options, level: int) -> list[str]:
    if inflation is None or options.reference is None:
        return []
    table = _interval(inflation, "k", "k_ci_low", "k_ci_high", f"k [{level}% CI]")
    table = _interval(
        table, "mean_log_ratio", "mean_log_ratio_ci_low", "mean_log_ratio_ci_high", "mean log ratio"
    )
    table = _interval(table, "slope", "slope_ci_low", "slope_ci_high", "slope [CI]")
    return [
        f"## Inflation relative to {options.reference}\n",
        "Per model and task, on the items both models have a positive mean cost for (mean "
        "reasoning tokens over answered samples): k of the through-origin least-squares fit "
        "cost_model = k * cost_reference, the mean log ratio log(cost_model / cost_reference), "
        "and the slope of the log ratio on difficulty z-scored within task (0: a constant "
        f"factor), with {level}% percentile bootstrap CIs over items and a two-sided "
        "permutation p for the slope. ALL pools items over tasks (slope with task fixed "
        "effects; resampling and permutation within task). Items with a missing or zero cost "
        "are excluded and counted (`excluded_reasons`).\n",
        markdown_table(
            table,
            [
                "model",
                "task",
                "difficulty_norm",
                "status",
                "n",
                "n_excluded",
                f"k [{level}% CI]",
                "mean log ratio",
                "geo_mean_ratio",
                "n_slope",
                "slope [CI]",
                "slope_p",
            ],
        ),
    ]


def _wrong_right_part(wrong_right: pd.DataFrame | None, level: int) -> list[str]:
    if wrong_right is None:
        return []
    table = _interval(
        wrong_right, "mean_diff", "mean_diff_ci_low", "mean_diff_ci_high", f"Δcost [{level}% CI]"
    )
    table = _interval(table, "cohens_d", "d_ci_low", "d_ci_high", "d_z [CI]")
    return [
        "## Cost when wrong vs when right\n",
        "Per model and task, items with at least one correct and one wrong answered sample; "
        "per item Δcost = mean tokens of the wrong samples minus mean tokens of the correct "
        f"ones. Mean Δcost with a {level}% percentile bootstrap CI over items, two-sided "
        "sign-flip p, and Cohen's d_z = mean / sd of the differences with its bootstrap CI. "
        "ALL pools items over tasks. Models with one sample per item have no within-item "
        "contrast (no rows; counted in the exclusions).\n",
        markdown_table(
            table,
            [
                "model",
                "task",
                "status",
                "n_items",
                "n_excluded",
                "mean_cost_right",
                "mean_cost_wrong",
                f"Δcost [{level}% CI]",
                "p_value",
                "d_z [CI]",
            ],
        ),
    ]
