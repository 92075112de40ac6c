"""Report section for `mimicry effort`: is the work left in a trace readable inside each model,
teacher vs base vs students, on the teacher's traces and on each model's own?

Reads RUN/effort/{effort,effort_bins,effort_compare}.csv; says what is missing when the stage did
not run or a role has no model, and states each comparison whatever its sign.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mimicry.data.models import Roster, random_init_name
from mimicry.experiments.report import figures
from mimicry.experiments.report.formatting import num, with_ci
from mimicry.experiments.report.sections import (
    Figure,
    Section,
    base_of,
    conditions_of,
    role_of,
    teacher_of,
)

TARGET_TEXT = {
    "remaining": "reasoning tokens remaining until the think close",
    "fraction": "fraction of the trace done",
    "difficulty": "human difficulty (RT z within task)",
}
READING_TEXT = {"teacher_traces": "on the teacher's traces", "own_traces": "on its own traces"}


def _read(run_dir: Path, name: str) -> pd.DataFrame | None:
    path = run_dir / "effort" / name
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None


def _expected_models(roster: Roster) -> list[tuple[str, str]]:
    """(role, model) the run declares: teacher, base and each student."""
    expected = [("teacher", teacher_of(roster)), ("base", base_of(roster))]
    expected += [(f"student ({c})", m) for c, m in conditions_of(roster).items()]
    return expected


def _presence(table: pd.DataFrame, roster: Roster) -> pd.DataFrame:
    read = {
        (m, r) for m, r in table[["model", "reading"]].drop_duplicates().itertuples(index=False)
    }
    names = [m for _, m in _expected_models(roster)]
    order = figures.Palette(roster=roster).sort_key
    extra = [m for m in sorted(set(table["model"]), key=order) if m not in names]
    rows = []
    for role, model in [*_expected_models(roster), *((role_of(m, roster), m) for m in extra)]:
        rows.append(
            {
                "role": role,
                "model": model,
                "read on teacher's traces": "yes"
                if (model, "teacher_traces") in read
                else "missing",
                "read on own traces": "yes" if (model, "own_traces") in read else "missing",
            }
        )
    return pd.DataFrame(rows)


def _best_rows(
    table: pd.DataFrame, compare: pd.DataFrame | None, target: str, order
) -> pd.DataFrame:
    acts = table[(table.feature_set == "activations") & (table.target == target)]
    if acts.empty or not acts["score"].notna().any():
        return pd.DataFrame()
    best = acts.loc[acts.dropna(subset=["score"]).groupby(["model", "reading"])["score"].idxmax()]
    rows = []
    for row in best.sort_values("model", key=lambda c: c.map(order)).itertuples():
        same = table[
            (table.model == row.model) & (table.reading == row.reading) & (table.target == target)
        ]
        surface = same[same.feature_set == "surface"]["score"]
        random = same[(same.feature_set == "random_init") & (same.layer == row.layer)]["score"]
        diff = None
        if compare is not None and len(compare):
            hit = compare[
                (compare.model == row.model)
                & (compare.reading == row.reading)
                & (compare.target == target)
            ]
            diff = hit.iloc[0] if len(hit) else None
        rows.append(
            {
                "model": row.model,
                "reading": row.reading,
                "best layer": int(row.layer),
                "rel. depth": num(row.rel_depth, 2),
                "R² [95% CI]": with_ci(row.score, row.ci_low, row.ci_high),
                "control": num(row.control_score, 2),
                "surface": num(surface.iloc[0], 2) if len(surface) else "–",
                "random init": num(random.iloc[0], 2) if len(random) else "–",
                "minus teacher [95% CI]": "–"
                if diff is None
                else with_ci(diff["diff"], diff["ci_low"], diff["ci_high"]),
                "items": int(row.n_items),
                "rows": int(row.n_rows),
            }
        )
    return pd.DataFrame(rows)


def _statements(compare: pd.DataFrame | None, teacher: str, order) -> list[str]:
    """One sentence per model and reading for the remaining-effort target, whatever the sign."""
    if compare is None or compare.empty:
        return [f"No comparison with the teacher ({teacher}) could be made: it was not read."]
    lines = []
    part = compare[compare.target == "remaining"]
    for row in part.sort_values("model", key=lambda c: c.map(order)).itertuples():
        if pd.isna(row.diff):
            verdict = "could not be compared (too few shared items)"
        elif pd.isna(row.ci_low) or row.ci_low <= 0 <= row.ci_high:
            verdict = "is not distinguishable from the teacher's"
        else:
            verdict = (
                "is higher than the teacher's" if row.diff > 0 else "is lower than the teacher's"
            )
        lines.append(
            f"{row.model} {READING_TEXT.get(row.reading, row.reading)}: remaining effort read with "
            f"R² {num(row.score, 2)} at layer {row.layer} vs the teacher's {num(row.teacher_score, 2)} "
            f"at layer {row.teacher_layer}; difference {with_ci(row.diff, row.ci_low, row.ci_high)} "
            f"over {row.n_items} items, so its read-out {verdict}."
        )
    return lines


def effort_section(tables, colours: dict) -> Section:
    """The along-trace effort probes of `tables.run_dir` (a `RunTables`)."""
    section = Section("effort", "Dynamic allocation inside: remaining effort along the trace")
    run_dir = Path(tables.run_dir)
    table = _read(run_dir, "effort.csv")
    if table is None or table.empty:
        section.paragraphs.append(
            "The effort stage did not run in this run directory (`mimicry effort RUN`)."
        )
        return section
    bins, compare = _read(run_dir, "effort_bins.csv"), _read(run_dir, "effort_compare.csv")
    roster = tables.roster
    teacher = teacher_of(roster)
    order = figures.Palette(roster=roster).sort_key
    section.paragraphs.append(
        "Each model's residual stream is read at positions along a reasoning trace (offset 0 is "
        "the think-open token, the last offset the last reasoning token) on the teacher's traces "
        "and on its own. Per layer a ridge probe (nested CV grouped by item family, so no item's "
        "positions sit on both sides of a split) predicts the tokens still to come, the fraction "
        "done and the item's human difficulty. Score: held-out R²; 95% CIs resample items, not "
        "positions. Baselines: surface features visible at the position (offset, prompt length, "
        "feat_* columns; never the trace length), the architecture at random init, and a control "
        "task (labels permuted within task). Differences to the teacher are paired over items at "
        "each model's own best layer (best layers are chosen on the same data, so each R² is "
        "optimistic by the same selection)."
    )
    section.tables.append(("Models of the run and the readings present.", _presence(table, roster)))
    section.paragraphs += _statements(compare, teacher, order)
    for target in [t for t in TARGET_TEXT if t in set(table["target"])]:
        best = _best_rows(table, compare, target, order)
        if len(best):
            section.tables.append(
                (f"Best layer for {TARGET_TEXT[target]}, per model and reading.", best)
            )
        curves = table[
            (table.target == target) & table.feature_set.isin(["activations", "random_init"])
        ]
        curves = curves.assign(
            model=curves["model"].where(
                curves.feature_set == "activations", curves["model"].map(random_init_name)
            )
        )
        surface = table[(table.target == target) & (table.feature_set == "surface")]
        hlines = {
            r: {"surface features": float(s["score"].mean())} for r, s in surface.groupby("reading")
        }
        section.figures.append(
            Figure(
                f"effort_{target}_depth",
                f"{TARGET_TEXT[target].capitalize()}: held-out R² vs relative depth, per reading "
                "(bands: 95% CI over items; dotted: control task; dashed: random init).",
                figures.depth_curves(
                    curves,
                    panel="reading",
                    x="rel_depth",
                    y="score",
                    low="ci_low",
                    high="ci_high",
                    line="model",
                    colours=colours,
                    xlabel="relative depth",
                    ylabel="R²",
                    hline=hlines,
                    dotted="control_score",
                    panel_titles=READING_TEXT,
                ),
            )
        )
        if (
            bins is not None
            and len(part := bins[bins.target == target])
            and part["score"].notna().any()
        ):
            section.figures.append(
                Figure(
                    f"effort_{target}_fraction",
                    f"{TARGET_TEXT[target].capitalize()}: R² of a probe fitted per fraction bin "
                    "of the trace at each model's best layer (bands: 95% CI over items).",
                    figures.depth_curves(
                        part,
                        panel="reading",
                        x="fraction_bin",
                        y="score",
                        low="ci_low",
                        high="ci_high",
                        line="model",
                        colours=colours,
                        xlabel="fraction of trace",
                        ylabel="R²",
                        dotted="control_score",
                        panel_titles=READING_TEXT,
                    ),
                )
            )
    return section
