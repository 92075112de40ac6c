"""Attention entropy conditioned on difficulty: per layer, does a model attend more diffusely on
items that humans find harder?

For each model, layer and region (prompt or trace) the item's entropy is the mean over heads of
`entropy_norm` (entropy divided by log of the keys attended, so longer prompts are not "harder"
by construction). Both entropy and human RT are z-scored within task (task fixed effects), and
the pooled within-task Pearson r is reported with a bootstrap CI over items and a permutation p.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.data.stats import correlate

ENTROPY_COLUMNS = (
    "model",
    "layer",
    "region",
    "measure",
    "n",
    "r",
    "ci_low",
    "ci_high",
    "p_value",
)
MIN_ITEMS_PER_TASK = 3


def _zscore_within(values: pd.Series, groups: pd.Series) -> pd.Series:
    grouped = values.groupby(groups)
    std = grouped.transform("std").replace(0, np.nan)
    return (values - grouped.transform("mean")) / std


def difficulty_table(items: pd.DataFrame, exclusions: Exclusions) -> pd.DataFrame:
    """item_id -> task and within-task z of human RT; items without RT are counted, not dropped silently."""
    table = items[["item_id", "task"]].copy()
    rt = items["human_rt_ms"] if "human_rt_ms" in items else pd.Series(np.nan, index=items.index)
    table["rt"] = pd.to_numeric(rt, errors="coerce")
    missing = table[table["rt"].isna()]
    for task, group in missing.groupby("task"):
        exclusions.add(
            "report_entropy",
            "no human RT norm",
            task=str(task),
            n=len(group),
            example=str(group["item_id"].iloc[0]),
        )
    table = table.dropna(subset=["rt"])
    sizes = table.groupby("task")["item_id"].transform("size")
    small = table[sizes < MIN_ITEMS_PER_TASK]
    for task, group in small.groupby("task"):
        exclusions.add(
            "report_entropy",
            f"fewer than {MIN_ITEMS_PER_TASK} items with RT in task",
            task=str(task),
            n=len(group),
            example=str(group["item_id"].iloc[0]),
        )
    table = table[sizes >= MIN_ITEMS_PER_TASK].copy()
    table["rt_z"] = _zscore_within(table["rt"], table["task"])
    return table.set_index("item_id")


def entropy_vs_difficulty(
    entropy_files: dict[str, Path],
    items: pd.DataFrame,
    *,
    n_boot: int,
    n_perm: int,
    seed: int,
    exclusions: Exclusions,
) -> pd.DataFrame:
    """One row per model x layer x region x measure: within-task r of entropy with human RT."""
    difficulty = difficulty_table(items, exclusions)
    rows = []
    for model, path in sorted(entropy_files.items()):
        entropy = pd.read_csv(path, dtype={"item_id": str})
        unknown = ~entropy["item_id"].isin(items["item_id"])
        if unknown.any():
            exclusions.add(
                "report_entropy",
                "entropy row for an item not in items.csv",
                model=model,
                n=int(unknown.sum()),
                example=str(entropy.loc[unknown, "item_id"].iloc[0]),
            )
        entropy = entropy[entropy["item_id"].isin(difficulty.index)]
        for measure in ("entropy_norm", "entropy"):
            per_item = entropy.groupby(["region", "layer", "item_id"])[measure].mean().reset_index()
            for (region, layer), group in per_item.groupby(["region", "layer"]):
                joined = group.join(difficulty, on="item_id").dropna(subset=[measure, "rt_z"])
                entropy_z = _zscore_within(joined[measure], joined["task"])
                keep = entropy_z.notna()
                stat = correlate(
                    entropy_z[keep].to_numpy(),
                    joined.loc[keep, "rt_z"].to_numpy(),
                    n_boot=n_boot,
                    n_perm=n_perm,
                    seed=seed + int(layer),
                )
                rows.append(
                    {
                        "model": model,
                        "layer": int(layer),
                        "region": region,
                        "measure": measure,
                        "n": stat.n,
                        "r": stat.r,
                        "ci_low": stat.ci_low,
                        "ci_high": stat.ci_high,
                        "p_value": stat.p_value,
                    }
                )
    return pd.DataFrame(rows, columns=list(ENTROPY_COLUMNS))
