"""The probe and cross-model sections: per-layer decodability with its controls, CKA and
direction cosines on relative depth."""

from __future__ import annotations

import pandas as pd

from mimicry.data.models import Roster, random_init_name
from mimicry.experiments.report import figures
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.formatting import ci_column, num, p_value
from mimicry.experiments.report.sections import (
    Figure,
    Section,
    base_of,
    numeric_columns,
    teacher_of,
)

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


def _probe_frames(
    probes: pd.DataFrame, roster: Roster
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
    random = random[random["model"].isin([teacher_of(roster), base_of(roster)])]
    random["model"] = random["model"].astype(str).map(random_init_name)
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
    layered, random, surface = _probe_frames(tables.probes, tables.roster)
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
            key=lambda c: c.map(figures.sort_key(colours)) if c.name == "model" else c,
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
    for metric in numeric_columns(compare, ("cka", "cos")):
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
