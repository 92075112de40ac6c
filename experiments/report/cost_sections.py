"""Two behavioural laws the literature reports, measured on this run: the linear inflation of the
teacher's cost by its students (Hu et al. 2026, k about 2.44 whatever the complexity), and the
cost of wrong against right samples of the same item (Wang 2026: models spend more when wrong,
people the reverse). Both tables come from `mimicry behaviour` (inflation.csv, wrong_right.csv)."""

from __future__ import annotations

import pandas as pd

from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.formatting import ci_column, num, p_value
from mimicry.experiments.report.sections import Section


def inflation_section(tables: RunTables) -> Section:
    section = Section("inflation", "Linear inflation law: each model's cost against the teacher's")
    frame = tables.inflation
    if frame is None or frame.empty:
        section.paragraphs.append(
            "No inflation table: the behaviour stage ran without a reference model."
        )
        return section
    reference = str(frame["reference"].iloc[0])
    section.paragraphs.append(
        f"Per model and task, item-wise reasoning tokens against {reference}'s: k is the "
        "through-origin least-squares ratio (cost = k × reference cost) with a bootstrap 95% CI "
        "over items; the slope is that of log(cost ratio) on human difficulty (z within task; "
        "ALL: task fixed effects), with bootstrap CI and permutation p. A constant inflation "
        "factor has a slope whose CI covers 0."
    )
    section.tables.append(
        (
            f"Inflation of {reference}'s cost (items with a positive cost in both models).",
            pd.DataFrame(
                {
                    "model": frame["model"],
                    "task": frame["task"],
                    "norm": frame.get("difficulty_norm", "–"),
                    "status": frame["status"],
                    "n": frame["n"],
                    "excluded": frame["n_excluded"],
                    "k [95% CI]": ci_column(frame, "k", "k_ci_low", "k_ci_high"),
                    "slope of log ratio on difficulty [95% CI]": ci_column(
                        frame, "slope", "slope_ci_low", "slope_ci_high"
                    ),
                    "p": frame["slope_p"].map(p_value),
                }
            ),
        )
    )
    return section


def wrong_right_section(tables: RunTables) -> Section:
    section = Section("wrong_right", "Cost when wrong vs when right (same item, several samples)")
    frame = tables.wrong_right
    if frame is None or frame.empty:
        section.paragraphs.append(
            "No within-item contrast: every model has one sample per item (generate.samples = 1), "
            "or no item had both a wrong and a right sample; each case is counted as an exclusion."
        )
        return section
    section.paragraphs.append(
        "Items with at least one wrong and one right sample: per item, mean reasoning tokens of "
        "the wrong samples minus those of the right ones; mean difference with bootstrap 95% CI "
        "and sign-flip p, and Cohen's d (d_z: mean over sd of the differences) with its CI."
    )
    section.tables.append(
        (
            "Wrong minus right cost per model and task.",
            pd.DataFrame(
                {
                    "model": frame["model"],
                    "task": frame["task"],
                    "status": frame["status"],
                    "items": frame["n_items"],
                    "right / wrong samples": [
                        f"{num(a, 0)} / {num(b, 0)}"
                        for a, b in zip(
                            frame["n_samples_right"], frame["n_samples_wrong"], strict=True
                        )
                    ],
                    "wrong − right tokens [95% CI]": ci_column(
                        frame, "mean_diff", "mean_diff_ci_low", "mean_diff_ci_high", digits=1
                    ),
                    "p": frame["p_value"].map(p_value),
                    "d [95% CI]": ci_column(frame, "cohens_d", "d_ci_low", "d_ci_high"),
                }
            ),
        )
    )
    return section
