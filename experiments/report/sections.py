"""The report's sections, each built from the run's tables into text, tables and figures.

A section never fails because a stage did not run: it says what is missing instead, so a partial
run still gets a readable report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.experiments.report import figures
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.entropy import entropy_vs_difficulty
from mimicry.experiments.report.formatting import ci_column, num, p_value, with_ci


@dataclass
class Figure:
    name: str  # file stem under report/figures/
    caption: str
    png: bytes


@dataclass
class Section:
    """One numbered part of the report: paragraphs, then (caption, table) pairs and figures."""

    anchor: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    preformatted: list[tuple[str, str]] = field(default_factory=list)


def all_models(tables: RunTables) -> list[str]:
    """Every model name that appears anywhere in the run, in report order."""
    names: set[str] = set(tables.entropy_files)
    for frame in (tables.alignment, tables.probes, tables.trace_summary):
        if frame is not None and "model" in frame:
            names |= set(frame["model"].astype(str))
    return sorted(names, key=figures.model_order)


def role_of(model: str, roles: dict) -> str:
    """'teacher', 'base', 'student (<condition>)' or 'random-init baseline'."""
    if model.endswith("__random_init"):
        return "random-init baseline"
    if model == roles.get("teacher", "teacher"):
        return "teacher"
    if model == roles.get("base", "base"):
        return "base (before distillation)"
    for condition, name in conditions_of(roles).items():
        if name == model:
            return f"student ({condition})"
    return "model"


def conditions_of(roles: dict) -> dict[str, str]:
    """Ablation condition -> student model name, from roles.json."""
    found = roles.get("conditions") or roles.get("students") or {}
    return found if isinstance(found, dict) else {name: name for name in found}


def overview(tables: RunTables, colours: dict) -> Section:
    section = Section("overview", "Run overview")
    rows = []
    traces = tables.trace_summary.set_index("model") if tables.trace_summary is not None else None
    for model in all_models(tables):
        info = traces.loc[model] if traces is not None and model in traces.index else None
        rows.append(
            {
                "model": model,
                "role": role_of(model, tables.roles),
                "traces (items × samples)": "–" if info is None else int(info["samples"]),
                "accuracy": "–" if info is None else num(info["accuracy"]),
                "mean reasoning tokens": "–"
                if info is None
                else num(info["mean_reasoning_tokens"], 1),
            }
        )
    section.tables.append(("Models and their roles.", pd.DataFrame(rows)))
    if tables.items is not None:
        items = tables.items
        per_task = items.groupby("task").agg(
            items=("item_id", "size"),
            with_rt=("human_rt_ms", lambda s: int(pd.to_numeric(s, errors="coerce").notna().sum()))
            if "human_rt_ms" in items
            else ("item_id", lambda s: 0),
            with_acc=("human_acc", lambda s: int(pd.to_numeric(s, errors="coerce").notna().sum()))
            if "human_acc" in items
            else ("item_id", lambda s: 0),
        )
        section.tables.append(
            ("Evaluated items per task (human norms available).", per_task.reset_index())
        )
    if tables.dropped_features is not None and not tables.dropped_features.empty:
        section.tables.append(
            (
                "Surface-feature columns left out of the surface baseline (undefined for some tasks).",
                tables.dropped_features,
            )
        )
    return section


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
                ).sort_values("model", key=lambda c: c.map(figures.model_order)),
            )
        )
    a = tables.alignment.sort_values(
        ["task", "model"], key=lambda c: c.map(figures.model_order) if c.name == "model" else c
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


METRIC_PREFERENCE = ("spearman", "auroc", "balanced_accuracy", "r2")


def _one_metric(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep one metric per target (Spearman for continuous targets, AUROC for classes)."""
    if "metric" not in frame:
        return frame
    keep = []
    for _, part in frame.groupby("target"):
        main = part[part["feature_set"] == "activations"] if "feature_set" in part else part
        present = list((main if len(main) else part)["metric"].astype(str).unique())
        chosen = next((m for m in METRIC_PREFERENCE if m in present), present[0])
        keep.append(part[part["metric"].astype(str) == chosen])
    return pd.concat(keep) if keep else frame


def _probe_frames(probes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split probes.csv into per-layer activation curves, random-init curves and surface baselines.

    Random-init rows are relabelled `<model>__random_init`; students share the base's random
    init, so only the teacher's and the base's are drawn.
    """
    probes = _one_metric(probes)
    feature_set = probes.get("feature_set", pd.Series("activations", index=probes.index)).astype(
        str
    )
    layered = probes[(feature_set == "activations") & (probes["layer"] >= 0)].copy()
    random = probes[feature_set == "random_init"].copy()
    random = random[random["model"].isin(["teacher", "base"])]
    random["model"] = random["model"].astype(str) + "__random_init"
    return layered, random, probes[feature_set == "surface"].copy()


def probes_section(tables: RunTables, colours: dict) -> Section:
    section = Section("probes", "Probes: where is difficulty linearly decodable?")
    if tables.probes is None or tables.probes.empty:
        section.paragraphs.append("The probe stage did not run in this run directory.")
        return section
    section.paragraphs.append(
        "Held-out score of a linear probe per layer (grouped cross-validation by item family), "
        "with 95% bootstrap CI bands; Spearman ρ of prediction and target for continuous targets, "
        "AUROC for classes. Dashed grey: the same architecture at random init (teacher's and "
        "base's; students share the base's). Dotted: the control task (labels permuted within "
        "task); selectivity = score − control. Dash-dot red: a probe on surface features only "
        "(per position, mean over models). Layer 0 is the embedding."
    )
    layered, random, surface = _probe_frames(tables.probes)
    for target in sorted(layered["target"].unique()):
        sub = pd.concat([layered[layered["target"] == target], random[random["target"] == target]])
        metric = str(sub["metric"].iloc[0]) if "metric" in sub else "score"
        hlines: dict = {}
        for position, part in surface[surface["target"] == target].groupby("position"):
            hlines[position] = {"surface features": float(part["score"].mean())}
        section.figures.append(
            Figure(
                f"probe_{target}",
                f"Probe target {target}: {metric} vs relative depth, per token position.",
                figures.depth_curves(
                    sub,
                    panel="position",
                    x="rel_depth",
                    y="score",
                    low="ci_low",
                    high="ci_high",
                    line="model",
                    colours=colours,
                    xlabel="relative depth",
                    ylabel=metric,
                    hline=hlines,
                    dotted="control_score",
                ),
            )
        )
    best = (
        pd.concat([layered, random])
        .sort_values("score", ascending=False)
        .groupby(["target", "model"], as_index=False)
        .first()
        .sort_values(
            ["target", "model"],
            key=lambda c: c.map(figures.model_order) if c.name == "model" else c,
        )
    )
    section.tables.append(
        (
            "Best layer per model and target (over positions), with its control and selectivity.",
            pd.DataFrame(
                {
                    "target": best["target"],
                    "model": best["model"],
                    "position": best["position"],
                    "layer": best["layer"].map(lambda v: num(v, 0)),
                    "rel. depth": best["rel_depth"].map(lambda v: num(v, 2)),
                    "metric": best.get("metric", ""),
                    "score [95% CI]": ci_column(best, "score", "ci_low", "ci_high"),
                    "control": best["control_score"].map(lambda v: num(v, 2)),
                    "selectivity": best["selectivity"].map(lambda v: num(v, 2)),
                    "p": best["p_value"].map(p_value),
                    "n": best["n_items"],
                }
            ),
        )
    )
    if not surface.empty:
        keys = ["target", "position", "score"]
        shared = surface.groupby(keys, dropna=False)["model"].transform("nunique")
        surface = surface.assign(model=surface["model"].where(shared == 1, "all models"))
        surface = surface.drop_duplicates(subset=keys)
        section.tables.append(
            (
                "Surface-feature baseline probes (feat_* columns and prompt length).",
                pd.DataFrame(
                    {
                        "target": surface["target"],
                        "model": surface["model"],
                        "position": surface["position"].fillna("all"),
                        "metric": surface.get("metric", ""),
                        "score [95% CI]": ci_column(surface, "score", "ci_low", "ci_high"),
                        "p": surface["p_value"].map(p_value),
                        "n": surface["n_items"],
                    }
                ),
            )
        )
    return section


def entropy_section(
    tables: RunTables, colours: dict, config: dict, exclusions: Exclusions
) -> tuple[Section, pd.DataFrame | None]:
    section = Section("entropy", "Attention entropy vs human difficulty, per layer")
    if not tables.entropy_files or tables.items is None:
        section.paragraphs.append("The capture stage wrote no attention entropy in this run.")
        return section, None
    report = config.get("report", {})
    result = entropy_vs_difficulty(
        tables.entropy_files,
        tables.items,
        n_boot=int(report.get("n_boot", 1000)),
        n_perm=int(report.get("n_perm", 1000)),
        seed=int(config.get("seed", 0)),
        exclusions=exclusions,
    )
    section.paragraphs.append(
        "Per layer: an item's attention entropy (mean over heads and query positions, normalised "
        "by log of the keys attended) and its human RT, both z-scored within task; Pearson r over "
        "items with a 95% bootstrap CI and a permutation p. Positive r: the model attends more "
        "diffusely on items humans find harder."
    )
    main = result[result["measure"] == "entropy_norm"].copy()
    if main.empty:
        section.paragraphs.append("No item had both attention entropy and a human RT norm.")
        return section, result
    section.figures.append(
        Figure(
            "entropy_difficulty",
            "Within-task r between normalised attention entropy and human RT, per layer (95% CI bands).",
            figures.depth_curves(
                main,
                panel="region",
                x="layer",
                y="r",
                low="ci_low",
                high="ci_high",
                line="model",
                colours=colours,
                xlabel="layer",
                ylabel="r(entropy, human RT)",
                panel_titles={"prompt": "prompt tokens", "trace": "reasoning-trace tokens"},
            ),
        )
    )
    main = main.sort_values(
        ["region", "model", "layer"],
        key=lambda c: c.map(figures.model_order) if c.name == "model" else c,
    )
    section.tables.append(
        (
            "Entropy–difficulty correlation per model, region and layer (normalised entropy).",
            pd.DataFrame(
                {
                    "model": main["model"],
                    "region": main["region"],
                    "layer": main["layer"],
                    "n": main["n"],
                    "r [95% CI]": ci_column(main, "r", "ci_low", "ci_high"),
                    "p": main["p_value"].map(p_value),
                }
            ),
        )
    )
    return section, result


def _numeric_columns(frame: pd.DataFrame, words: tuple[str, ...]) -> list[str]:
    return [
        c
        for c in frame.columns
        if any(w in c.lower() for w in words)
        and pd.api.types.is_numeric_dtype(frame[c])
        and not c.lower().endswith(("_low", "_high"))
    ]


def compare_section(tables: RunTables, colours: dict) -> Section:
    section = Section("compare", "Representational similarity: CKA and the difficulty direction")
    compare = tables.compare
    if compare is None or compare.empty:
        section.paragraphs.append("The compare stage did not run in this run directory.")
        return section
    section.paragraphs.append(
        "Linear CKA between matched layers (relative depth) of student and base, and student and "
        "teacher; cosine between the difference-of-means difficulty directions (hard minus easy) "
        "of models of equal width."
    )
    pair = _pair_labels(compare)
    frame = compare.assign(pair=pair)
    depth = next((c for c in ("rel_depth", "rel_depth_a", "layer") if c in compare), None)
    plotted = frame
    note = ""
    if "position" in frame and frame["position"].nunique() > 1:
        positions = list(frame["position"].unique())
        first = "last_prompt" if "last_prompt" in positions else positions[0]
        plotted = frame[frame["position"] == first]
        note = f" at position {first} (the table lists every position)"
    if {"model_a", "model_b"} <= set(frame.columns):
        reference = plotted["model_b"].astype(str)
        plotted = plotted.assign(panel="vs " + reference, line=plotted["model_a"].astype(str))
        line_colours = colours
    else:
        plotted = plotted.assign(panel="pairs", line=plotted["pair"])
        line_colours = dict(
            zip(sorted(plotted["pair"].unique()), figures.STUDENT_COLOURS * 3, strict=False)
        )
    titles = {"cka": "Linear CKA", "direction_cosine": "cosine of difficulty directions"}
    for metric in _numeric_columns(compare, ("cka", "cos")):
        low = next(
            (c for c in compare.columns if c.startswith(metric) and c.endswith("_low")), None
        )
        high = next(
            (c for c in compare.columns if c.startswith(metric) and c.endswith("_high")), None
        )
        sub = plotted.dropna(subset=[metric])
        if sub.empty or depth is None:
            continue
        section.figures.append(
            Figure(
                f"compare_{metric}",
                f"{titles.get(metric, metric)} between matched layers on relative depth, each "
                f"model against the base and against the teacher{note}.",
                figures.depth_curves(
                    sub,
                    panel="panel",
                    x=depth,
                    y=metric,
                    low=low,
                    high=high,
                    line="line",
                    colours=line_colours,
                    xlabel="relative depth",
                    ylabel=titles.get(metric, metric),
                ),
            )
        )
    shown = frame.drop(columns=["pair"]).copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: num(v, 3))
    section.tables.append(("Layer-pair similarities.", shown))
    return section


def _pair_labels(compare: pd.DataFrame) -> pd.Series:
    for a, b in (("model_a", "model_b"), ("model", "reference"), ("student", "other"), ("a", "b")):
        if a in compare and b in compare:
            return compare[a].astype(str) + " vs " + compare[b].astype(str)
    return pd.Series(["pair"] * len(compare), index=compare.index)


def ablation_section(tables: RunTables, colours: dict, entropy: pd.DataFrame | None) -> Section:
    section = Section(
        "ablation", "Ablation comparison: students distilled under each trace ablation"
    )
    students = conditions_of(tables.roles)
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
        tables.roles.get("teacher", "teacher"),
        tables.roles.get("base", "base"),
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
            "condition": condition_of.get(model, role_of(model, tables.roles)),
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
    measures = [m for m in ("delta_length", "delta_acc") if m in steer] or _numeric_columns(
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


def exclusions_section(tables: RunTables, own: Exclusions) -> Section:
    section = Section("exclusions", "Exclusions")
    frames = [tables.exclusions]
    if own.total():
        mine = pd.DataFrame(own.rows())
        mine.insert(0, "source", "report")
        frames.append(mine)
    frame = (
        pd.concat([f for f in frames if not f.empty], ignore_index=True)
        if any(not f.empty for f in frames)
        else tables.exclusions
    )
    total = (
        int(pd.to_numeric(frame["n"], errors="coerce").fillna(0).sum()) if not frame.empty else 0
    )
    section.paragraphs.append(
        f"Every item or row left out of an analysis, by stage, model, task and reason "
        f"(all exclusions.csv files of the run, plus this report's own): {total} in total."
    )
    section.tables.append(("All exclusions.", frame.fillna("")))
    return section


def provenance_section(
    tables: RunTables, versions: dict[str, str], timings: pd.DataFrame | None
) -> Section:
    section = Section("provenance", "Configuration and versions")
    section.tables.append(
        (
            "Library versions.",
            pd.DataFrame({"package": list(versions), "version": list(versions.values())}),
        )
    )
    if timings is not None and not timings.empty:
        section.tables.append(("Stage units and their last run time (s).", timings))
    if tables.config_text:
        section.preformatted.append(("The resolved config (RUN/config.yaml).", tables.config_text))
    return section
