"""Probe targets per item: human difficulty, the model's own effort, and their partial versions.

Each target is a float vector over the item table (NaN where the item has no value), so every
missing value is counted in the exclusions ledger rather than dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mimicry.data.exclusions import Exclusions

STAGE = "probes"
HUMAN_TARGETS = ("human_rt", "human_acc", "difficulty_bin")
MODEL_TARGETS = ("own_length", "correct")
PARTIAL_TARGETS = ("human_rt_partial_own_length", "own_length_partial_human_rt")
ALL_TARGETS = (*HUMAN_TARGETS, *MODEL_TARGETS, *PARTIAL_TARGETS)
DEFAULT_TARGETS = ALL_TARGETS
_TRACE_BASED = {*MODEL_TARGETS, *PARTIAL_TARGETS}


@dataclass
class Target:
    """One probe target: values aligned to the item table; classes coded 0..k-1."""

    name: str
    values: np.ndarray
    kind: str  # "continuous" | "class"
    n_classes: int = 0


def _zscore_within(values: pd.Series, tasks: pd.Series) -> pd.Series:
    grouped = values.groupby(tasks)
    sd = grouped.transform(lambda v: v.std(ddof=1))
    return (values - grouped.transform("mean")) / sd.where(sd > 0)


def human_rt(items: pd.DataFrame) -> pd.Series:
    """Human RT z-scored within task (tasks differ in baseline speed)."""
    if "human_rt_ms" not in items:
        return pd.Series(np.nan, index=items.index)
    return _zscore_within(pd.to_numeric(items["human_rt_ms"], errors="coerce"), items["task"])


def human_acc(items: pd.DataFrame) -> pd.Series:
    """Human accuracy (0..1) as is."""
    if "human_acc" not in items:
        return pd.Series(np.nan, index=items.index)
    return pd.to_numeric(items["human_acc"], errors="coerce")


def difficulty_bin(items: pd.DataFrame) -> pd.Series:
    """Within-task tertiles (0 easy .. 2 hard) of human RT, or of error rate where a task has no RT."""
    rt = (
        pd.to_numeric(items["human_rt_ms"], errors="coerce")
        if "human_rt_ms" in items
        else pd.Series(np.nan, index=items.index)
    )
    err = (
        1.0 - pd.to_numeric(items["human_acc"], errors="coerce")
        if "human_acc" in items
        else pd.Series(np.nan, index=items.index)
    )
    out = pd.Series(np.nan, index=items.index)
    for _, index in items.groupby("task").groups.items():
        basis = rt.loc[index] if rt.loc[index].notna().any() else err.loc[index]
        valid = basis.dropna()
        if valid.nunique() < 3:
            continue
        ranks = valid.rank(method="first")
        out.loc[valid.index] = pd.qcut(ranks, 3, labels=False).astype(float)
    return out


def _parsed(traces: pd.DataFrame, model: str) -> pd.DataFrame:
    """This model's parsed samples: an unparsed one has no reasoning length or answer to use."""
    mine = traces[traces["model"] == model]
    return mine[mine["parsed"]] if "parsed" in mine else mine


def own_length(items: pd.DataFrame, traces: pd.DataFrame | None, model: str) -> pd.Series:
    """Mean over parsed samples of log(1 + reasoning tokens) of this model's traces."""
    if traces is None:
        return pd.Series(np.nan, index=items.index)
    mine = _parsed(traces, model)
    per_item = np.log1p(mine["n_reasoning_tokens"].astype(float)).groupby(mine["item_id"]).mean()
    return items["item_id"].map(per_item).astype(float)


def correct(items: pd.DataFrame, traces: pd.DataFrame | None, model: str) -> pd.Series:
    """Majority correctness over parsed samples (exact ties are missing, not guessed)."""
    if traces is None:
        return pd.Series(np.nan, index=items.index)
    mine = _parsed(traces, model)
    share = mine["correct"].astype(float).groupby(mine["item_id"]).mean()
    majority = share.map(lambda s: np.nan if s == 0.5 else float(s > 0.5))
    return items["item_id"].map(majority).astype(float)


def residualise(target: pd.Series, covariate: pd.Series) -> pd.Series:
    """Residual of `target` after OLS on `covariate` (with intercept), on items having both.

    Done once on all items (one degree of freedom; its leakage across folds is negligible).
    """
    both = target.notna() & covariate.notna()
    out = pd.Series(np.nan, index=target.index)
    if both.sum() < 3:
        return out
    x = np.column_stack([np.ones(both.sum()), covariate[both].to_numpy(float)])
    coef, *_ = np.linalg.lstsq(x, target[both].to_numpy(float), rcond=None)
    out[both] = target[both].to_numpy(float) - x @ coef
    return out


def build_targets(
    items: pd.DataFrame,
    traces: pd.DataFrame | None,
    model: str,
    requested: list[str],
    exclusions: Exclusions,
) -> dict[str, Target]:
    """The requested targets for one model; items without a value are counted per task."""
    rt = human_rt(items)
    length = own_length(items, traces, model)
    series = {
        "human_rt": rt,
        "human_acc": human_acc(items),
        "difficulty_bin": difficulty_bin(items),
        "own_length": length,
        "correct": correct(items, traces, model),
        "human_rt_partial_own_length": residualise(rt, length),
        "own_length_partial_human_rt": residualise(length, rt),
    }
    targets: dict[str, Target] = {}
    if traces is not None and "parsed" in traces and set(requested) & _TRACE_BASED:
        mine = traces[(traces["model"] == model) & ~traces["parsed"]]
        task_of = items.set_index("item_id")["task"]
        for task, group in mine.groupby(mine["item_id"].map(task_of), sort=True):
            exclusions.add(
                STAGE,
                "unparsed_sample",
                model=model,
                task=str(task),
                n=len(group),
                example=str(group["item_id"].iloc[0]),
            )
    for name in requested:
        values = series[name]
        missing = values.isna()
        for task, n in items.loc[missing, "task"].value_counts().sort_index().items():
            first = items.loc[missing & (items["task"] == task), "item_id"].iloc[0]
            exclusions.add(
                STAGE, f"no_{name}", model=model, task=str(task), n=int(n), example=str(first)
            )
        if missing.all():
            continue
        if name in ("difficulty_bin", "correct"):
            classes = int(values.dropna().nunique())
            if classes < 2:
                exclusions.add(
                    STAGE,
                    f"{name}_single_class",
                    model=model,
                    n=int((~missing).sum()),
                )
                continue
            targets[name] = Target(name, values.to_numpy(float), "class", classes)
        else:
            targets[name] = Target(name, values.to_numpy(float), "continuous")
    return targets
