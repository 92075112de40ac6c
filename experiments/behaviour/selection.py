"""From trace lines to the items analysed per model x task, counting every exclusion by reason.

Per item and model: cost is the mean of `n_reasoning_tokens` over samples with an answer (or the
mean of log(1 + tokens) with `log_cost`), accuracy the fraction of all samples marked correct
(a sample without an answer counts as wrong), and the correct-only cost the mean over samples
that are correct and answered. Difficulty is the item's human RT (`rt`), 1 - human accuracy
(`error`), or per task whichever the task has (`auto`: RT where the task's items have RT norms,
else the error rate); every selection records the norm it used (`difficulty_norm`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.data.stats import is_constant
from mimicry.experiments.behaviour.outliers import cooks_outliers

MAIN, CORRECT_ONLY = "behaviour", "behaviour.correct_only"
DIFFICULTY_KINDS = ("auto", "rt", "error")
NORM_COLUMNS = {"rt": "human_rt_ms", "error": "human_acc"}
NO_NORM = "none"  # difficulty_norm of a task without the norm (or, in tables, not using one)
OUTLIER_RULES = ("none", "cooks")
OK = "ok"


@dataclass
class Selection:
    """Items of one model x task that enter one analysis, and why the rest did not."""

    model: str
    task: str
    analysis: str
    status: str  # "ok" or the reason the whole task was left out
    item_ids: list[str] = field(default_factory=list)
    cost: np.ndarray = field(default_factory=lambda: np.empty(0))
    difficulty: np.ndarray = field(default_factory=lambda: np.empty(0))
    accuracy: np.ndarray = field(default_factory=lambda: np.empty(0))
    n_excluded: int = 0
    n_samples_unparsed: int = 0
    difficulty_norm: str = NO_NORM  # "rt" or "error": the norm `difficulty` holds

    @property
    def n(self) -> int:
        return len(self.item_ids)


def _norm_values(items: pd.DataFrame, norm: str) -> pd.Series:
    column = NORM_COLUMNS[norm]
    if column not in items.columns:
        return pd.Series(np.nan, index=items.index)
    values = pd.to_numeric(items[column], errors="coerce")
    return values if norm == "rt" else 1.0 - values


def task_norms(items: pd.DataFrame, kind: str) -> dict[str, str]:
    """The difficulty norm each task uses: `kind` itself for rt / error; for auto "rt" when any
    of the task's items has an RT norm, else "error" when any has an accuracy norm, else "none".
    """
    tasks = sorted(str(t) for t in items["task"].unique())
    if kind != "auto":
        return dict.fromkeys(tasks, kind)
    has = {norm: _norm_values(items, norm).notna().to_numpy() for norm in NORM_COLUMNS}
    norms = {}
    for task in tasks:
        rows = (items["task"] == task).to_numpy()
        norms[task] = next((n for n in NORM_COLUMNS if has[n][rows].any()), NO_NORM)
    return norms


def combined_norm(norms: Iterable[str]) -> str:
    """difficulty_norm of a row that pools tasks: "rt", "error", "rt+error", or "none"."""
    used = set(norms) - {NO_NORM}
    return "+".join(n for n in NORM_COLUMNS if n in used) or NO_NORM


def difficulty_of(items: pd.DataFrame, kind: str) -> pd.Series:
    """Per-item difficulty: human RT in ms, or the human error rate 1 - accuracy (NaN if none);
    with `auto`, each task's norm from `task_norms` (NaN for a task without either)."""
    if kind != "auto":
        return _norm_values(items, kind)
    by_task = items["task"].astype(str).map(task_norms(items, kind)).to_numpy()
    values = np.full(len(items), np.nan)
    for norm in NORM_COLUMNS:
        rows = by_task == norm
        values[rows] = _norm_values(items, norm).to_numpy(dtype=np.float64)[rows]
    return pd.Series(values, index=items.index)


def item_level(traces: pd.DataFrame, *, log_cost: bool) -> pd.DataFrame:
    """One row per model x item: sample counts, accuracy, cost and correct-only cost."""
    tokens = traces["n_reasoning_tokens"].to_numpy(dtype=np.float64)
    value = np.log1p(tokens) if log_cost else tokens
    parsed = traces["parsed"].to_numpy(dtype=bool)
    good = parsed & traces["correct"].to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {
            "model": traces["model"].to_numpy(),
            "item_id": traces["item_id"].to_numpy(),
            "n_samples": 1,
            "n_parsed": parsed.astype(np.int64),
            "n_correct": traces["correct"].to_numpy(dtype=np.int64),
            "n_correct_parsed": good.astype(np.int64),
            "parsed_sum": np.where(parsed, value, 0.0),
            "correct_sum": np.where(good, value, 0.0),
        }
    )
    table = frame.groupby(["model", "item_id"], sort=True).sum().reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        table["cost"] = table["parsed_sum"] / table["n_parsed"].where(table["n_parsed"] > 0)
        table["cost_correct"] = table["correct_sum"] / table["n_correct_parsed"].where(
            table["n_correct_parsed"] > 0
        )
    table["accuracy"] = table["n_correct"] / table["n_samples"]
    return table.drop(columns=["parsed_sum", "correct_sum"])


def item_costs(items: pd.DataFrame, traces: pd.DataFrame, *, difficulty: str) -> pd.DataFrame:
    """Per model x item: task, mean reasoning tokens over answered samples, and difficulty.

    Args:
        items: the item table (item_id, task, human norms).
        traces: trace lines as `data.traces.read_traces` returns them.
        difficulty: "auto", "rt" or "error" (see `task_norms`).

    Returns:
        Columns model, item_id, task, cost (NaN: no answered sample), difficulty (NaN: no
        norm), difficulty_norm.
    """
    norms = task_norms(items, difficulty)
    table = items[["item_id", "task"]].assign(
        difficulty=difficulty_of(items, difficulty).to_numpy(),
        difficulty_norm=items["task"].astype(str).map(norms).to_numpy(),
    )
    per_item = item_level(traces, log_cost=False)[["model", "item_id", "cost"]]
    return per_item.merge(table, on="item_id", how="left", validate="many_to_one")


def select(
    items: pd.DataFrame,
    traces: pd.DataFrame,
    ledger: Exclusions,
    *,
    difficulty: str = "rt",
    log_cost: bool = False,
    min_items: int = 5,
    outliers: str = "none",
) -> list[Selection]:
    """Selections for both analyses (all samples; correct samples only) of every model x task a
    model has traces for, with exclusions added to `ledger`."""
    items = items.assign(difficulty=difficulty_of(items, difficulty).to_numpy())
    norms = task_norms(items, difficulty)
    per_item = item_level(traces, log_cost=log_cost).merge(
        items[["item_id", "task", "difficulty"]], on="item_id", how="left", validate="many_to_one"
    )
    unparsed = per_item["n_samples"] - per_item["n_parsed"]
    per_item["n_unparsed"] = unparsed
    norm_name = {"rt": "rt", "error": "accuracy", "auto": "rt_or_accuracy"}[difficulty]
    selections: list[Selection] = []
    for (model, task), group in per_item.groupby(["model", "task"], sort=True):
        model, task = str(model), str(task)
        task_items = items[items["task"] == task]
        group = group.set_index("item_id").reindex(task_items["item_id"])
        n_unparsed = int(group["n_unparsed"].fillna(0).sum())

        def drop(
            mask: pd.Series, reason: str, stage: str = MAIN, model=model, task=task
        ) -> pd.Series:
            if mask.any():
                ledger.add(
                    stage,
                    reason,
                    model=model,
                    task=task,
                    n=int(mask.sum()),
                    example=str(mask[mask].index[0]),
                )
            return ~mask

        has_trace = group["n_samples"].notna()
        if task_items["difficulty"].isna().all():
            reason = f"task_without_{norm_name}_norm"
            drop(has_trace, reason)
            for analysis in (MAIN, CORRECT_ONLY):
                selections.append(
                    Selection(
                        model,
                        task,
                        analysis,
                        reason,
                        n_excluded=int(has_trace.sum()),
                        n_samples_unparsed=n_unparsed,
                        difficulty_norm=norms[task],
                    )
                )
            continue
        keep = drop(~has_trace, "no_traces")
        keep &= drop(keep & group["difficulty"].isna(), "missing_norm")
        keep &= drop(keep & (group["n_parsed"] == 0), "all_samples_unparseable")
        n_common = int((~keep).sum())
        base = group[keep]
        selections.append(
            _finish(base, "cost", model, task, MAIN, ledger, min_items, outliers, n_common)
        )
        no_correct = base["n_correct_parsed"] == 0
        drop(no_correct, "no_correct_sample", CORRECT_ONLY)
        selections.append(
            _finish(
                base[~no_correct],
                "cost_correct",
                model,
                task,
                CORRECT_ONLY,
                ledger,
                min_items,
                outliers,
                int(no_correct.sum()),
            )
        )
        for sel in selections[-2:]:
            sel.n_samples_unparsed, sel.difficulty_norm = n_unparsed, norms[task]
    return selections


def _finish(
    frame: pd.DataFrame,
    cost_column: str,
    model: str,
    task: str,
    analysis: str,
    ledger: Exclusions,
    min_items: int,
    outliers: str,
    n_excluded: int,
) -> Selection:
    """Apply the outlier rule and the minimum-items and non-constant checks."""
    cost = frame[cost_column].to_numpy(dtype=np.float64)
    diff = frame["difficulty"].to_numpy(dtype=np.float64)
    ids = [str(i) for i in frame.index]
    if outliers == "cooks" and len(ids) >= 3 and not (is_constant(cost) or is_constant(diff)):
        mask = cooks_outliers(diff, cost)
        if mask.any():
            ledger.add(
                analysis,
                "cooks_outlier",
                model=model,
                task=task,
                n=int(mask.sum()),
                example=ids[int(np.flatnonzero(mask)[0])],
            )
            n_excluded += int(mask.sum())
            frame, cost, diff = frame[~mask], cost[~mask], diff[~mask]
            ids = [str(i) for i in frame.index]
    status = OK
    if len(ids) < min_items:
        status = "too_few_items"
    elif is_constant(cost):
        status = "constant_cost"
    elif is_constant(diff):
        status = "constant_difficulty"
    if status != OK:
        if ids:
            ledger.add(analysis, status, model=model, task=task, n=len(ids), example=ids[0])
        return Selection(model, task, analysis, status, n_excluded=n_excluded + len(ids))
    return Selection(
        model,
        task,
        analysis,
        OK,
        item_ids=ids,
        cost=cost,
        difficulty=diff,
        accuracy=frame["accuracy"].to_numpy(dtype=np.float64),
        n_excluded=n_excluded,
    )
