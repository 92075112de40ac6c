"""Gather what the stages wrote into one object the report renders (every table optional).

The report depends only on the run-directory contract, so it renders whatever subset of stages
ran, and says which parts are missing instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.models import Roster, read_roster

EXCLUSION_COLUMNS = ["source", "stage", "model", "task", "reason", "n", "example"]


@dataclass
class RunTables:
    """The run directory's tables, each `None` when the stage that writes it did not run."""

    run_dir: Path
    items: pd.DataFrame | None = None
    alignment: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    transfer: pd.DataFrame | None = None
    inflation: pd.DataFrame | None = None
    wrong_right: pd.DataFrame | None = None
    probes: pd.DataFrame | None = None
    compare: pd.DataFrame | None = None
    steer: pd.DataFrame | None = None
    entropy_files: dict[str, Path] = field(default_factory=dict)
    exclusions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=EXCLUSION_COLUMNS)
    )
    roster: Roster = field(default_factory=lambda: Roster([]))
    config_text: str = ""
    ablation_checks: dict[str, dict] = field(default_factory=dict)
    training_logs: dict[str, pd.DataFrame] = field(default_factory=dict)
    trace_summary: pd.DataFrame | None = None
    traces: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    dropped_features: pd.DataFrame | None = None


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, dtype={"item_id": str})
    except pd.errors.EmptyDataError:
        return None


def collect_exclusions(run_dir: Path) -> pd.DataFrame:
    """Every `exclusions.csv` under the run, with the folder it came from as `source`."""
    frames = []
    for path in sorted(run_dir.rglob("*exclusions.csv")):
        parts = path.relative_to(run_dir).parts
        if any(part.startswith(".") for part in parts) or parts[0] == "report":
            continue  # hidden work folders; the report's own ledger is added by the report
        frame = _csv(path)
        if frame is None or frame.empty:
            continue
        frame.insert(0, "source", str(path.relative_to(run_dir).with_suffix("")))
        frames.append(frame.reindex(columns=EXCLUSION_COLUMNS))
    if not frames:
        return pd.DataFrame(columns=EXCLUSION_COLUMNS)
    return pd.concat(frames, ignore_index=True).fillna("")


TRACE_COLUMNS = [
    "model",
    "item_id",
    "task",
    "sample",
    "correct",
    "n_reasoning_tokens",
    "parse_error",
]


def _traces(run_dir: Path) -> pd.DataFrame | None:
    """Every trace line of the run (the columns the validity gate and the checks use)."""
    frames = []
    for path in sorted((run_dir / "traces").glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not lines:
            continue
        frame = pd.DataFrame(lines).reindex(columns=TRACE_COLUMNS)
        frame["model"] = path.stem
        frame["item_id"] = frame["item_id"].astype(str)
        # object dtype first: an all-empty column reads as float, which takes no "" fill
        frame["parse_error"] = frame["parse_error"].astype(object).fillna("").astype(str)
        frame["correct"] = frame["correct"].fillna(False).astype(bool)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def _trace_summary(run_dir: Path) -> pd.DataFrame | None:
    """Per model: samples, accuracy and mean reasoning tokens of its traces (for the overview)."""
    rows = []
    for path in sorted((run_dir / "traces").glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not lines:
            continue
        frame = pd.DataFrame(lines)
        tokens = frame.get("n_reasoning_tokens")
        rows.append(
            {
                "model": path.stem,
                "samples": len(frame),
                "items": frame["item_id"].nunique() if "item_id" in frame else len(frame),
                "accuracy": float(frame["correct"].mean()) if "correct" in frame else float("nan"),
                "mean_reasoning_tokens": float(tokens.mean())
                if tokens is not None
                else float("nan"),
            }
        )
    return pd.DataFrame(rows) if rows else None


def collect(run_dir: str | Path) -> RunTables:
    """Read every table the report uses from `run_dir`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("run directory not found", file=run_dir)
    tables = RunTables(run_dir=run_dir)
    tables.items = _csv(run_dir / "items.csv")
    for name in ("alignment", "summary", "transfer", "inflation", "wrong_right"):
        setattr(tables, name, _csv(run_dir / "behaviour" / f"{name}.csv"))
    for name in ("probes", "compare", "steer"):
        setattr(tables, name, _csv(run_dir / "probes" / f"{name}.csv"))
    tables.entropy_files = {p.stem: p for p in sorted((run_dir / "entropy").glob("*.csv"))}
    tables.exclusions = collect_exclusions(run_dir)
    config = run_dir / "config.yaml"
    tables.config_text = config.read_text() if config.is_file() else ""
    for check in sorted((run_dir / "ablations").glob("*/check.json")):
        tables.ablation_checks[check.parent.name] = json.loads(check.read_text())
    for log in sorted((run_dir / "students").glob("*/training_log.csv")):
        frame = _csv(log)
        if frame is not None:
            tables.training_logs[log.parent.name] = frame
    tables.trace_summary = _trace_summary(run_dir)
    tables.traces = _traces(run_dir)
    tables.predictions = _csv(run_dir / "probes" / "predictions.csv")
    tables.dropped_features = _csv(run_dir / "data" / "dropped_features.csv")
    tables.roster = read_roster(run_dir, _models_on_disk(tables))
    return tables


def _models_on_disk(tables: RunTables) -> list[str]:
    """Every model name the run's files mention (traces, activations, entropy, tables)."""
    names = dict.fromkeys(tables.entropy_files)
    for path in sorted((tables.run_dir / "activations").glob("*/manifest.json")):
        names[path.parent.name] = None
    for frame in (tables.trace_summary, tables.alignment, tables.probes):
        if frame is not None and "model" in frame:
            names.update(dict.fromkeys(frame["model"].astype(str)))
    return list(names)
