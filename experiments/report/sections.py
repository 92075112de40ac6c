"""The report's sections, each built from the run's tables into text, tables and figures.

A section never fails because a stage did not run: it says what is missing instead, so a partial
run still gets a readable report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.data.models import Roster
from mimicry.experiments.report import figures
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.formatting import num


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
    return sorted(names, key=figures.Palette(roster=tables.roster).sort_key)


def role_of(model: str, roster: Roster) -> str:
    """'teacher', 'base (before distillation)', 'student (<condition>)' or 'random-init X'."""
    return roster.label(model)


def conditions_of(roster: Roster) -> dict[str, str]:
    """Student condition -> student model name, from the run's model records."""
    return roster.conditions()


def teacher_of(roster: Roster) -> str:
    """The teacher's model name (`teacher` when the run has no record of one)."""
    found = roster.with_role("teacher")
    return found[0].name if found else "teacher"


def base_of(roster: Roster) -> str:
    """The base's model name (`base` when the run has no record of one)."""
    found = roster.with_role("base")
    return found[0].name if found else "base"


def numeric_columns(frame: pd.DataFrame, words: tuple[str, ...]) -> list[str]:
    return [
        c
        for c in frame.columns
        if any(w in c.lower() for w in words)
        and pd.api.types.is_numeric_dtype(frame[c])
        and not c.lower().endswith(("_low", "_high"))
    ]


def overview(tables: RunTables, colours: dict) -> Section:
    section = Section("overview", "Run overview")
    rows = []
    traces = tables.trace_summary.set_index("model") if tables.trace_summary is not None else None
    for model in all_models(tables):
        info = traces.loc[model] if traces is not None and model in traces.index else None
        rows.append(
            {
                "model": model,
                "role": role_of(model, tables.roster),
                "traces (items × samples)": "–" if info is None else int(info["samples"]),
                "accuracy": "–" if info is None else num(info["accuracy"]),
                "mean reasoning tokens": "–"
                if info is None
                else num(info["mean_reasoning_tokens"], 1),
            }
        )
    section.tables.append(("Models and their roles.", pd.DataFrame(rows)))
    section.paragraphs += tables.roster.restricted(all_models(tables)).same_model_notes()
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
