"""The ablation and steering sections: students side by side under each trace ablation, and
the causal test along the difficulty direction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mimicry.experiments.report import figures
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.formatting import ci_column, num, p_value, with_ci
from mimicry.experiments.report.sections import (
    Figure,
    Section,
    base_of,
    conditions_of,
    numeric_columns,
    role_of,
    teacher_of,
)


def ablation_section(tables: RunTables, colours: dict, entropy: pd.DataFrame | None) -> Section:
    section = Section(
        "ablation", "Ablation comparison: students distilled under each trace ablation"
    )
    students = conditions_of(tables.roster)
    if not students:
        section.paragraphs.append("No distilled students in this run.")
        return section
    section.paragraphs.append(
        "One student per ablation set, side by side with the teacher and the base. If students "
        "copy the form, alignment follows the trace format (original ≈ format-fixed); if they "
        "learn the policy, it follows the content (original ≈ content-fixed) and vanishes when "
        "length is decoupled from difficulty (length-matched)."
    )
    names = [
        teacher_of(tables.roster),
        base_of(tables.roster),
        *students.values(),
    ]
    condition_of = {v: k for k, v in students.items()}
    summary = tables.summary.set_index("model") if tables.summary is not None else None
    traces = tables.trace_summary.set_index("model") if tables.trace_summary is not None else None
    probes = tables.probes
    rows = []
    for model in names:
        row: dict = {
            "model": model,
            "condition": condition_of.get(model, role_of(model, tables.roster)),
        }
        if summary is not None and model in summary.index:
            s = summary.loc[model]
            row.update(
                r_bar=s["r_bar"],
                r_bar_ci_low=s["r_bar_ci_low"],
                r_bar_ci_high=s["r_bar_ci_high"],
                r_bar_p=s["r_bar_p"],
            )
        if traces is not None and model in traces.index:
            row.update(
                accuracy=traces.loc[model, "accuracy"],
                tokens=traces.loc[model, "mean_reasoning_tokens"],
            )
        if probes is not None and "human_rt" in set(probes["target"]):
            part = probes[
                (probes["model"] == model)
                & (probes["target"] == "human_rt")
                & probes["layer"].notna()
            ]
            if not part.empty:
                top = part.sort_values("score").iloc[-1]
                row.update(probe=top["score"], probe_low=top["ci_low"], probe_high=top["ci_high"])
        if entropy is not None and not entropy.empty:
            part = entropy[(entropy["model"] == model) & (entropy["measure"] == "entropy_norm")]
            if not part.empty:
                top = part.iloc[part["r"].abs().argmax()]
                row.update(
                    entropy_r=top["r"], entropy_low=top["ci_low"], entropy_high=top["ci_high"]
                )
        if tables.transfer is not None and model in set(tables.transfer["student"]):
            row["delta_r"] = float(
                tables.transfer[tables.transfer["student"] == model]["delta_r"].mean()
            )
        check = tables.ablation_checks.get(condition_of.get(model, ""), {})
        row["held fixed"] = _check_text(check)
        log = tables.training_logs.get(condition_of.get(model, ""))
        if log is not None and "loss" in log and log["loss"].notna().any():
            losses = log["loss"].dropna()
            row["SFT loss"] = f"{num(losses.iloc[0], 2)} → {num(losses.iloc[-1], 2)}"
        rows.append(row)
    frame = pd.DataFrame(rows)
    get = lambda c: frame[c] if c in frame else pd.Series([np.nan] * len(frame))  # noqa: E731
    section.tables.append(
        (
            "Students by ablation condition, with teacher and base for reference.",
            pd.DataFrame(
                {
                    "model": frame["model"],
                    "condition": frame["condition"],
                    "r̄ cost–difficulty [95% CI]": [
                        with_ci(*v)
                        for v in zip(
                            get("r_bar"), get("r_bar_ci_low"), get("r_bar_ci_high"), strict=True
                        )
                    ],
                    "p": get("r_bar_p").map(p_value),
                    "mean Δr vs base": get("delta_r").map(lambda v: num(v, 2)),
                    "accuracy": get("accuracy").map(lambda v: num(v, 2)),
                    "mean tokens": get("tokens").map(lambda v: num(v, 1)),
                    "best human-RT probe [95% CI]": [
                        with_ci(*v)
                        for v in zip(get("probe"), get("probe_low"), get("probe_high"), strict=True)
                    ],
                    "max |r| entropy–RT [95% CI]": [
                        with_ci(*v)
                        for v in zip(
                            get("entropy_r"), get("entropy_low"), get("entropy_high"), strict=True
                        )
                    ],
                    "SFT loss": get("SFT loss").fillna("–") if "SFT loss" in frame else "–",
                    "held fixed (check)": frame["held fixed"],
                }
            ),
        )
    )
    metrics = [
        (c, title, lo, hi)
        for c, title, lo, hi in (
            ("r_bar", "r̄ cost vs human difficulty", "r_bar_ci_low", "r_bar_ci_high"),
            ("accuracy", "accuracy", None, None),
            ("tokens", "mean reasoning tokens", None, None),
            ("probe", "best human-RT probe score", "probe_low", "probe_high"),
        )
        if c in frame and frame[c].notna().any()
    ]
    if metrics:
        section.figures.append(
            Figure(
                "ablation_comparison",
                "Teacher, base and each student side by side (error bars: 95% CI).",
                figures.grouped_bars(
                    frame.assign(model=frame["model"]),
                    group="model",
                    metrics=metrics,
                    colours=colours,
                ),
            )
        )
    return section


def _check_text(check: dict) -> str:
    if not check:
        return "–"
    if "passed" in check:
        status = "passed" if check["passed"] else "FAILED"
        held = check.get("held_fixed") or check.get("held") or ""
        return f"{status}: {held}" if held else status
    return ", ".join(
        f"{k}={v}" for k, v in list(check.items())[:3] if not isinstance(v, (dict, list))
    )


def steer_section(tables: RunTables, colours: dict) -> Section:
    section = Section("steer", "Causal test: steering along the difficulty direction")
    steer = tables.steer
    if steer is None or steer.empty:
        section.paragraphs.append("The steer stage did not run in this run directory.")
        return section
    section.paragraphs.append(
        "The difference-of-means difficulty direction is added (α > 0) or subtracted (α < 0) to "
        "the residual stream at one layer during generation; if the direction is used, reasoning "
        "length moves with α."
    )
    alpha = next((c for c in ("alpha", "scale", "coefficient") if c in steer), None)
    measures = [m for m in ("delta_length", "delta_acc") if m in steer] or numeric_columns(
        steer, ("length", "token", "acc")
    )
    if alpha is not None:
        for measure in measures[:2]:
            low = next(
                (c for c in steer.columns if c.startswith(measure) and c.endswith("_low")), None
            )
            high = next(
                (c for c in steer.columns if c.startswith(measure) and c.endswith("_high")), None
            )
            section.figures.append(
                Figure(
                    f"steer_{measure}",
                    f"{measure} vs steering coefficient α (95% CI).",
                    figures.line_with_ci(
                        steer,
                        x=alpha,
                        y=measure,
                        low=low,
                        high=high,
                        line="model" if "model" in steer and steer["model"].nunique() > 1 else None,
                        colours=colours,
                        xlabel="α",
                        ylabel=measure,
                        title=measure,
                    ),
                )
            )
    if {"delta_length", "delta_length_ci_low", "delta_acc"} <= set(steer.columns):
        shown = pd.DataFrame(
            {
                "model": steer["model"],
                "layer": steer["layer"],
                "position": steer["position"],
                "α": steer["alpha"].map(lambda v: f"{v:g}"),
                "n": steer["n_items"],
                "mean length": steer["mean_length"].map(lambda v: num(v, 1)),
                "Δlength vs α=0 [95% CI]": ci_column(
                    steer, "delta_length", "delta_length_ci_low", "delta_length_ci_high", digits=1
                ),
                "p(Δlength)": steer["delta_length_p"].map(p_value),
                "accuracy": steer["accuracy"].map(lambda v: num(v, 2)),
                "Δaccuracy [95% CI]": ci_column(
                    steer, "delta_acc", "delta_acc_ci_low", "delta_acc_ci_high"
                ),
                "p(Δacc)": steer["delta_acc_p"].map(p_value),
                "parse failures": steer.get("n_parse_failed", ""),
                "status": steer.get("status", ""),  # "nothing parsed": no change reported
            }
        )
    else:
        shown = steer.copy()
        for column in shown.columns:
            if pd.api.types.is_float_dtype(shown[column]):
                shown[column] = shown[column].map(lambda v: num(v, 3))
    section.tables.append(("Steering results.", shown))
    return section
