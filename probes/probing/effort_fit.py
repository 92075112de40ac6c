"""Labels and fits of the along-trace probes: per-row targets, control labels, CV groups, and
one ridge solve per layer for every target and its controls.

Control tasks permute labels within task: an item's difficulty moves with the item; per-position
labels (tokens remaining, fraction done) are shuffled over the task's rows, which keeps each
task's label distribution and breaks the link to the activations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.probes.probing.controls import label_matrix
from mimicry.probes.probing.cv import nested_splits
from mimicry.probes.probing.effort_stats import r2_with_item_ci, weighted_r2
from mimicry.probes.probing.ridge import ridge_nested_cv
from mimicry.probes.probing.targets import human_rt

STAGE = "effort"


def item_frame(rows: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    table = items.assign(item_id=items["item_id"].astype(str)).set_index("item_id")
    missing = ~rows["item_id"].isin(table.index)
    if missing.any():
        raise InputError(
            f"rows name items not in the item table ({rows['item_id'][missing].iloc[0]!r})",
            field="item_id",
        )
    return table.loc[rows["item_id"]]


def row_targets(rows: pd.DataFrame, items: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-row targets: tokens remaining, fraction done, item difficulty (RT z within task)."""
    difficulty = pd.Series(human_rt(items).to_numpy(float), index=items["item_id"].astype(str))
    return {
        "remaining": rows["remaining"].to_numpy(float),
        "fraction": rows["fraction"].to_numpy(float),
        "difficulty": difficulty.loc[rows["item_id"]].to_numpy(float),
    }


def row_groups(rows: pd.DataFrame, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(CV group, task) per row: the item's `group` (else its id), and its task."""
    aligned = item_frame(rows, items)
    groups = aligned["group"] if "group" in aligned else pd.Series(rows["item_id"].to_numpy())
    groups = groups.astype(str).where(groups.notna(), rows["item_id"].to_numpy())
    return groups.astype(str).to_numpy(), aligned["task"].astype(str).to_numpy()


class EffortLabels:
    """Real and control labels of each target, grouped by the rows they are defined on."""

    def __init__(self, rows, items, targets, config, groups, tasks, exclusions, model):
        values = row_targets(rows, items)
        item_ids = rows["item_id"].to_numpy(str)
        self.tasks = tasks
        self.targets = {}
        for name in targets:
            y = values[name]
            keep = np.isfinite(y)
            lost = sorted(set(item_ids[~keep]))
            if lost:
                exclusions.add(STAGE, f"no_{name}", model=model, n=len(lost), example=lost[0])
            if len(np.unique(groups[keep])) < config.folds:
                exclusions.add(
                    STAGE, f"too_few_groups_{name}", model=model, n=len(set(item_ids[keep]))
                )
                continue
            self.targets[name] = (keep, y, self._control(name, y, keep, item_ids, tasks, config))
        self.masks = {}
        for name, (keep, _, _) in self.targets.items():
            self.masks.setdefault(keep.tobytes(), (keep, []))[1].append(name)

    @staticmethod
    def _control(name, y, keep, item_ids, tasks, config) -> np.ndarray:
        if name != "difficulty":
            _, control, _ = label_matrix(
                y[keep], tasks[keep], n_control=config.n_control, n_perm=0, seed=config.seed
            )
            return control
        ids, first, row_item = np.unique(item_ids[keep], return_index=True, return_inverse=True)
        _, control, _ = label_matrix(
            y[keep][first],
            tasks[keep][first],
            n_control=config.n_control,
            n_perm=0,
            seed=config.seed,
        )
        return control[row_item]


def fit_targets(x, labels: EffortLabels, groups, config, split_cache) -> dict[str, tuple]:
    """Out-of-fold ridge per target: (keep, y, oof, control labels, control oof), all targets on
    the same rows in one solve (real and control columns share splits and alphas grid)."""
    out = {}
    for key, (keep, names) in labels.masks.items():
        if key not in split_cache:
            split_cache[key] = nested_splits(groups[keep], config.folds, config.seed)
        blocks = [
            np.column_stack([labels.targets[n][1][keep], labels.targets[n][2]]) for n in names
        ]
        oof = ridge_nested_cv(
            x[keep], np.column_stack(blocks), split_cache[key], np.asarray(config.alphas)
        ).oof
        start = 0
        for name, block in zip(names, blocks, strict=True):
            part = oof[:, start : start + block.shape[1]]
            out[name] = (keep, block[:, 0], part[:, 0], block[:, 1:], part[:, 1:])
            start += block.shape[1]
    return out


def fit_rows(fits: dict[str, tuple], item_ids: np.ndarray, config, base: dict) -> list[dict]:
    """Table rows of one feature set: R^2 with its CI over items, and the control R^2."""
    rows = []
    for name, (keep, y, oof, control_y, control_oof) in fits.items():
        ids = item_ids[keep]
        score, low, high = r2_with_item_ci(y, oof, ids, n_boot=config.n_boot, seed=config.seed)
        ones = np.ones((1, len(y)))
        controls = [
            weighted_r2(c, p, ones)[0] for c, p in zip(control_y.T, control_oof.T, strict=True)
        ]
        rows.append(
            {
                **base,
                "target": name,
                "score": score,
                "ci_low": low,
                "ci_high": high,
                "control_score": float(np.nanmean(controls)) if controls else np.nan,
                "n_items": len(np.unique(ids)),
                "n_rows": int(keep.sum()),
            }
        )
    return rows
