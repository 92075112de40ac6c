"""The report's first three sections: the validity gate, the findings, the manipulation checks.

They come before every other section because they decide what the rest may be read for: models
that fail the gate are marked in every later table and figure, and the findings never use them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.experiments.report import findings as f
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.entropy import difficulty_table
from mimicry.experiments.report.formatting import num, with_ci
from mimicry.experiments.report.sections import Section, base_of, conditions_of, teacher_of
from mimicry.experiments.report.validity import RULE, Verdict, validity_table, verdicts

FAIL_MARK = " ✗"
FIGURE_MARK = " †"  # the figures' fonts have no ✗


def gate(tables: RunTables) -> tuple[pd.DataFrame | None, dict[str, Verdict]]:
    """The validity table and the verdicts (empty when the run has no traces)."""
    if tables.traces is None or tables.items is None:
        return None, {}
    table = validity_table(tables.traces, tables.items)
    return table, verdicts(table)


def validity_section(table: pd.DataFrame | None, found: dict[str, Verdict]) -> Section:
    section = Section("validity", "Validity gate: which models did their task")
    if table is None:
        section.paragraphs.append("No traces in this run: no model can be judged or interpreted.")
        return section
    section.paragraphs.append(
        f"Rule: a model is {RULE}. A number about a model is interpreted only when the model "
        "passes; models that fail are marked ✗ in every later table and figure, and the findings "
        "leave them out."
    )
    overall = table[table["task"] == "all"]
    section.tables.append(
        (
            "Per model (all evaluated items): verdict, accuracy with Wilson 95% CI, chance, parse "
            "rate, closed-think rate, mean reasoning tokens.",
            pd.DataFrame(
                {
                    "model": overall["model"],
                    "verdict": overall["interpretable"].map(
                        lambda ok: "interpretable" if ok else "NOT interpretable"
                    ),
                    "reason": overall["reason"],
                    "n": overall["n"],
                    "accuracy [95% CI]": _accuracy(overall),
                    "chance": overall["chance"].map(lambda v: num(v, 2)),
                    "parse rate": overall["parse_rate"].map(lambda v: num(v, 2)),
                    "closed think": overall["closed_think_rate"].map(lambda v: num(v, 2)),
                    "mean tokens": overall["mean_reasoning_tokens"].map(lambda v: num(v, 1)),
                }
            ),
        )
    )
    tasks = table[table["task"] != "all"]
    section.tables.append(
        (
            "Per model and task.",
            pd.DataFrame(
                {
                    "model": tasks["model"].map(lambda m: mark(m, found)),
                    "task": tasks["task"],
                    "n": tasks["n"],
                    "accuracy [95% CI]": _accuracy(tasks),
                    "chance": tasks["chance"].map(lambda v: num(v, 2)),
                    "parse rate": tasks["parse_rate"].map(lambda v: num(v, 2)),
                    "closed think": tasks["closed_think_rate"].map(lambda v: num(v, 2)),
                    "mean tokens": tasks["mean_reasoning_tokens"].map(lambda v: num(v, 1)),
                }
            ),
        )
    )
    return section


def _accuracy(frame: pd.DataFrame) -> list[str]:
    return [
        with_ci(a, lo, hi)
        for a, lo, hi in frame[["accuracy", "accuracy_ci_low", "accuracy_ci_high"]].to_numpy()
    ]


def mark(model: str, found: dict[str, Verdict], *, figure: bool = False) -> str:
    """The model name, marked when it failed the gate (✗ in tables, † in figure legends);
    random-init baselines have no verdict and stay unmarked."""
    verdict = found.get(str(model))
    if verdict is None or verdict.interpretable:
        return str(model)
    return f"{model}{FIGURE_MARK if figure else FAIL_MARK}"


def ok(model: str, found: dict[str, Verdict]) -> bool:
    verdict = found.get(model)
    return verdict is not None and verdict.interpretable


# --- findings ---------------------------------------------------------------------------------


def findings_section(
    tables: RunTables, found: dict[str, Verdict], entropy: pd.DataFrame | None, config: dict
) -> Section:
    section = Section("findings", "Findings (generated from the tables)")
    n_boot, seed = config["report"]["n_boot"], int(config.get("seed", 0))
    teacher, base = teacher_of(tables.roster), base_of(tables.roster)
    students = list(conditions_of(tables.roster).values())
    section.paragraphs.append(f.gate_sentence(found))
    good = [m for m in (teacher, base, *students) if ok(m, found)]
    # behaviour
    summary = tables.summary.set_index("model") if tables.summary is not None else None
    lines = []
    for model in good:
        if summary is not None and model in summary.index and summary.loc[model, "n_tasks"] > 0:
            lines.append(f"{model}: {f.r_bar_text(summary.loc[model])}")
    section.paragraphs.append(
        "Behaviour, cost vs human difficulty: "
        + ("; ".join(lines) if lines else "no interpretable model has an r̄.")
        + "."
    )
    section.paragraphs.append(_transfer_text(tables, found, base))
    # (a) probes
    rows = []
    if tables.probes is not None and not tables.probes.empty:
        position = _first_position(tables.probes)
        best = f.best_probe_layers(tables.probes, position)
        for model in good:
            if model not in best.index:
                continue
            top = best.loc[model]
            row = {
                "model": model,
                "best layer": int(top["layer"]),
                "relative depth": num(top["rel_depth"], 2),
                "score [95% CI]": with_ci(top["score"], top["ci_low"], top["ci_high"]),
                "control": num(top["control_score"], 2),
                "minus teacher [paired 95% CI]": "–",
            }
            if model != teacher and teacher in best.index and tables.predictions is not None:
                diff = f.probe_difference(
                    tables.predictions,
                    (model, int(top["layer"])),
                    (teacher, int(best.loc[teacher, "layer"])),
                    position,
                    n_boot=n_boot,
                    seed=seed,
                )
                row["minus teacher [paired 95% CI]"] = diff.text()
            rows.append(row)
        section.paragraphs.append(
            f"(a) Layer-wise encoding: the best layer's probe score for human RT (Spearman of "
            f"held-out predictions, position {position}) per interpretable model; "
            + (
                "; ".join(
                    f"{r['model']} {r['score [95% CI]']} at layer {r['best layer']}" for r in rows
                )
                if rows
                else "no probe rows for interpretable models"
            )
            + "."
        )
        if rows:
            section.tables.append(("(a) Best-layer probe scores, human RT.", pd.DataFrame(rows)))
    else:
        section.paragraphs.append("(a) Layer-wise encoding: the probe stage did not run.")
    # (b) entropy
    section.paragraphs.append(_entropy_text(tables, found, entropy, good, teacher, n_boot, seed))
    # (c) format-fixed vs original
    section.paragraphs.append(_ablation_text(tables, found))
    return section


def _first_position(probes: pd.DataFrame) -> str:
    positions = list(dict.fromkeys(probes["position"].astype(str)))
    return "last_prompt" if "last_prompt" in positions else positions[0]


def _transfer_text(tables: RunTables, found: dict[str, Verdict], base: str) -> str:
    transfer = tables.transfer
    if transfer is None or transfer.empty:
        return "Negative transfer (student minus base): no student-base pair has an alignment r."
    if not ok(base, found):
        return f"Negative transfer: not interpreted, the base ({base}) failed the validity gate."
    pooled = transfer["task"].astype(str).str.lower() == "all"
    overall = transfer[pooled] if pooled.any() else transfer
    parts = []
    for row in overall.to_dict("records"):
        if not ok(str(row["student"]), found):
            continue
        parts.append(
            f"{row['student']} Δr = {with_ci(row['delta_r'], row['delta_r_ci_low'], row['delta_r_ci_high'])}"
            + (" (negative transfer)" if row["delta_r_ci_high"] < 0 else "")
        )
    return (
        "Negative transfer (student r minus base r, paired bootstrap over items): "
        + ("; ".join(parts) if parts else "no interpretable student")
        + "."
    )


def _entropy_text(tables, found, entropy, good, teacher, n_boot, seed) -> str:
    if entropy is None or entropy.empty:
        return "(b) Attention entropy conditioned on difficulty: no entropy in this run."
    strongest = f.strongest_entropy_layers(entropy)
    # the entropy section already counted these exclusions: a throwaway ledger here
    difficulty = difficulty_table(tables.items, Exclusions())
    parts = []
    for model in good:
        if model not in strongest.index:
            continue
        top = strongest.loc[model]
        text = (
            f"{model} layer {int(top['layer'])} ({top['region']}) r = "
            f"{with_ci(top['r'], top['ci_low'], top['ci_high'])}"
        )
        if model != teacher and teacher in strongest.index and teacher in tables.entropy_files:
            t = strongest.loc[teacher]
            diff = f.entropy_difference(
                tables.entropy_files,
                (model, int(top["layer"]), str(top["region"])),
                (teacher, int(t["layer"]), str(t["region"])),
                difficulty,
                n_boot=n_boot,
                seed=seed,
            )
            differs = np.isfinite(diff.ci_low) and (diff.ci_low > 0 or diff.ci_high < 0)
            text += (
                f", minus teacher {diff.text()}: {'differs' if differs else 'no difference shown'}"
            )
        parts.append(text)
    return (
        "(b) Attention entropy vs human RT (within task), strongest layer per interpretable model: "
        + ("; ".join(parts) if parts else "none")
        + "."
    )


def _ablation_text(tables: RunTables, found: dict[str, Verdict]) -> str:
    students = conditions_of(tables.roster)
    a, b = students.get("original"), students.get("format_fixed_content_varied")
    if a is None or b is None:
        return "(c) Format-fixed / content-varied vs original: not both students are in this run."
    bad = [m for m in (a, b) if not ok(m, found)]
    if bad:
        return f"(c) Format-fixed / content-varied vs original: not interpreted ({', '.join(bad)} failed the validity gate)."
    summary = tables.summary.set_index("model") if tables.summary is not None else None
    best = (
        f.best_probe_layers(tables.probes, _first_position(tables.probes))
        if tables.probes is not None and not tables.probes.empty
        else pd.DataFrame()
    )
    parts = []
    for model in (a, b):
        text = model
        if summary is not None and model in summary.index and summary.loc[model, "n_tasks"] > 0:
            text += f": {f.r_bar_text(summary.loc[model])}"
        if model in best.index:
            top = best.loc[model]
            text += f"; best probe {with_ci(top['score'], top['ci_low'], top['ci_high'])}"
        parts.append(text)
    return "(c) Format-fixed / content-varied vs original: " + " | ".join(parts) + "."


# --- manipulation checks ----------------------------------------------------------------------


def manipulation_section(tables: RunTables, found: dict[str, Verdict]) -> Section:
    section = Section("manipulation", "Manipulation checks: did each ablation do what it says")
    students = conditions_of(tables.roster)
    if not students:
        section.paragraphs.append("No distilled students in this run.")
        return section
    summary = tables.summary.set_index("model") if tables.summary is not None else None
    teacher = teacher_of(tables.roster)
    rows = []
    for condition, model in students.items():
        check = tables.ablation_checks.get(condition)
        held = "–" if check is None else ("pass" if check.get("passed") else "FAIL")
        expected, observed, passed = _signature(condition, model, teacher, summary, tables)
        rows.append(
            {
                "condition": condition,
                "student": mark(model, found),
                "held fixed": "–" if check is None else str(check.get("held_fixed", "")),
                "held-fixed check": held,
                "expected signature": expected,
                "observed": observed,
                "signature": passed,
            }
        )
    section.tables.append(
        (
            "Each set's held-fixed factor (its check.json) and the behaviour it should produce.",
            pd.DataFrame(rows),
        )
    )
    section.paragraphs.append(_discrimination(tables, found, summary, teacher, students))
    return section


def _covers_zero(row) -> bool:
    return bool(row["r_bar_ci_low"] <= 0 <= row["r_bar_ci_high"])


def _signature(condition, model, teacher, summary, tables):
    if summary is None or model not in summary.index or not summary.loc[model, "n_tasks"] > 0:
        return _expected(condition), "no r̄ (no task passed the behaviour stage)", "–"
    row = summary.loc[model]
    r_text = f"r̄ = {with_ci(row['r_bar'], row['r_bar_ci_low'], row['r_bar_ci_high'])}"
    if condition == "length_matched":
        return _expected(condition), r_text, "pass" if _covers_zero(row) else "FAIL"
    if condition == "original" and summary is not None and teacher in summary.index:
        t = summary.loc[teacher]
        overlap = (
            row["r_bar_ci_low"] <= t["r_bar_ci_high"] and t["r_bar_ci_low"] <= row["r_bar_ci_high"]
        )
        return (
            _expected(condition),
            f"{r_text}; teacher {with_ci(t['r_bar'], t['r_bar_ci_low'], t['r_bar_ci_high'])}",
            "pass" if overlap else "FAIL",
        )
    return _expected(condition), r_text, "–"


def _expected(condition: str) -> str:
    return {
        "length_matched": "cost no longer follows difficulty: r̄ CI covers 0",
        "original": "imitates the teacher's allocation: r̄ CI overlaps the teacher's",
        "format_fixed_content_varied": "none fixed in advance (the question the ablation asks)",
        "content_fixed_format_varied": "none fixed in advance (the question the ablation asks)",
        "rl": "no trace ablation (GRPO with the teacher's reward)",
        "sft_then_rl": "no trace ablation (SFT original, then GRPO)",
    }.get(condition, "–")


def _discrimination(tables, found, summary, teacher, students) -> str:
    matched = students.get("length_matched")
    if summary is None or matched is None:
        return (
            "Instruments: not tested on this run (needs the teacher and a length_matched student)."
        )
    if not (ok(teacher, found) and ok(matched, found)):
        return "Instruments: not tested, the teacher or the length_matched student failed the validity gate."
    if teacher not in summary.index or matched not in summary.index:
        return "Instruments: not tested, the teacher or the length_matched student has no r̄."
    t, m = summary.loc[teacher], summary.loc[matched]
    if not (t["n_tasks"] > 0 and m["n_tasks"] > 0):
        return "Instruments: not tested, the teacher or the length_matched student has no r̄."
    detects = t["r_bar_ci_low"] > 0
    silent = _covers_zero(m)
    verdict = "discriminated" if detects and silent else "did NOT discriminate"
    return (
        f"Instruments {verdict} on this run: the teacher's alignment "
        f"{'is' if detects else 'is not'} detected (r̄ CI {'above' if detects else 'not above'} 0), "
        f"and the length-matched student's {'is not' if silent else 'is still'} "
        f"(r̄ CI {'covers' if silent else 'excludes'} 0)."
    )


def headline(run_dir) -> list[str]:
    """A few numbers for the end of a run: per model, the verdict, accuracy and r-bar."""
    from mimicry.experiments.report.collect import collect

    tables = collect(run_dir)
    table, found = gate(tables)
    if table is None:
        return []
    summary = tables.summary.set_index("model") if tables.summary is not None else None
    lines = []
    for row in table[table["task"] == "all"].to_dict("records"):
        model = str(row["model"])
        text = f"  {model:40s} accuracy {row['accuracy']:.2f}"
        if summary is not None and model in summary.index and summary.loc[model, "n_tasks"] > 0:
            s = summary.loc[model]
            text += f"  r̄ {with_ci(s['r_bar'], s['r_bar_ci_low'], s['r_bar_ci_high'])}"
        lines.append(text + ("" if found[model].interpretable else "  ✗ not interpretable"))
    return lines
