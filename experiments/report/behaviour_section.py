"""The behaviour section: reasoning cost against human difficulty, per model and task."""

from __future__ import annotations

import pandas as pd

from mimicry.experiments.report import figures
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.formatting import ci_column, num, p_value
from mimicry.experiments.report.sections import (
    Figure,
    Section,
)


def behaviour(tables: RunTables, colours: dict) -> Section:
    section = Section("behaviour", "Behavioural alignment: reasoning cost vs human difficulty")
    if tables.alignment is None:
        section.paragraphs.append("The behaviour stage did not run in this run directory.")
        return section
    section.paragraphs.append(
        "Per model and task: Pearson r between an item's reasoning cost (tokens in the think "
        "block, mean over samples) and the human difficulty norm, with a 95% bootstrap CI over "
        "items and a permutation p. r̄ is the Fisher-z mean over tasks; the pooled r uses task "
        "fixed effects; the correct-only r uses correct samples only."
    )
    if tables.summary is not None:
        s = tables.summary
        section.tables.append(
            (
                "Alignment per model (r̄ over tasks, pooled, and correct trials only).",
                pd.DataFrame(
                    {
                        "model": s["model"],
                        "tasks": s["n_tasks"],
                        "items": s["n_items"],
                        "r̄ [95% CI]": ci_column(s, "r_bar", "r_bar_ci_low", "r_bar_ci_high"),
                        "p(r̄)": s["r_bar_p"].map(p_value),
                        "pooled r [95% CI]": ci_column(
                            s, "pooled_r", "pooled_ci_low", "pooled_ci_high"
                        ),
                        "p(pooled)": s["pooled_p"].map(p_value),
                        "correct-only r [95% CI]": ci_column(
                            s, "correct_only_r", "correct_only_ci_low", "correct_only_ci_high"
                        ),
                        "p(correct-only)": s["correct_only_p"].map(p_value),
                    }
                ).sort_values("model", key=lambda c: c.map(figures.sort_key(colours))),
            )
        )
    a = tables.alignment.sort_values(
        ["task", "model"],
        key=lambda c: c.map(figures.sort_key(colours)) if c.name == "model" else c,
    )
    section.tables.append(
        (
            "Alignment per model and task.",
            pd.DataFrame(
                {
                    "model": a["model"],
                    "task": a["task"],
                    "n": a["n"],
                    "mean cost": a["mean_cost"].map(lambda v: num(v, 1)),
                    "Pearson r [95% CI]": ci_column(a, "pearson_r", "r_ci_low", "r_ci_high"),
                    "p": a["p_value"].map(p_value),
                    "Spearman ρ": a["spearman_rho"].map(lambda v: num(v, 2)),
                    "accuracy": a["accuracy"].map(lambda v: num(v, 2)),
                    "excluded": a["n_excluded"],
                }
            ),
        )
    )
    section.figures.append(
        Figure(
            "behaviour_alignment",
            "Pearson r (95% bootstrap CI) between reasoning cost and human difficulty, per task.",
            figures.forest(
                tables.alignment,
                panel="task",
                row="model",
                estimate="pearson_r",
                low="r_ci_low",
                high="r_ci_high",
                xlabel="Pearson r",
                colours=colours,
            ),
        )
    )
    if tables.transfer is not None and not tables.transfer.empty:
        t = tables.transfer
        section.paragraphs.append(
            "Negative transfer: a student's r minus its base's r on the same items, with a paired "
            "bootstrap CI (below zero: distillation made cost follow difficulty less)."
        )
        section.tables.append(
            (
                "Transfer (student minus base).",
                pd.DataFrame(
                    {
                        "student": t["student"],
                        "base": t["base"],
                        "task": t["task"],
                        "n": t["n"],
                        "Δr [95% CI]": ci_column(t, "delta_r", "delta_r_ci_low", "delta_r_ci_high"),
                        "p": t["delta_r_p"].map(p_value),
                        "Δaccuracy [95% CI]": ci_column(
                            t, "delta_acc", "delta_acc_ci_low", "delta_acc_ci_high"
                        ),
                    }
                ),
            )
        )
        section.figures.append(
            Figure(
                "behaviour_transfer",
                "Δr (student − base) with paired 95% bootstrap CI, per task.",
                figures.forest(
                    t,
                    panel="task",
                    row="student",
                    estimate="delta_r",
                    low="delta_r_ci_low",
                    high="delta_r_ci_high",
                    xlabel="Δr (student − base)",
                    colours=colours,
                ),
            )
        )
    return section
