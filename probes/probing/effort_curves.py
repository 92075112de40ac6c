"""Where along the trace the remaining effort is readable, and how each model compares with the
teacher: a fit per fraction bin at a model's best layer, and paired item-bootstrap differences
of student (or base) minus teacher at each model's own best layer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mimicry.probes.capture.along_store import AlongActivations
from mimicry.probes.probing.cv import nested_splits
from mimicry.probes.probing.effort_fit import fit_rows
from mimicry.probes.probing.effort_stats import paired_difference
from mimicry.probes.probing.ridge import ridge_nested_cv

COMPARE_COLUMNS = (
    "model",
    "reading",
    "target",
    "layer",
    "teacher_layer",
    "score",
    "teacher_score",
    "diff",
    "ci_low",
    "ci_high",
    "n_items",
)


def bin_centers(acts: AlongActivations, config) -> np.ndarray:
    """The bins of the per-fraction curve: configured, the capture's fractions, or ten equal."""
    if config.bin_centers:
        return np.asarray(config.bin_centers, dtype=float)
    fractions = acts.manifest.get("options", {}).get("fractions") or []
    if fractions and not acts.manifest["options"].get("every"):
        return np.asarray(sorted(fractions), dtype=float)
    return (np.arange(10) + 0.5) / 10


def bin_curve(acts, items, labels, name, layer, groups, config, base) -> list[dict]:
    """Fit `name` separately on the rows of each fraction bin at `layer` (NaN where too few)."""
    centers = bin_centers(acts, config)
    fraction = acts.rows["fraction"].to_numpy(float)
    nearest = np.abs(fraction[:, None] - centers[None, :]).argmin(axis=1)
    keep, y_all, _ = labels.targets[name]
    item_ids = acts.rows["item_id"].to_numpy(str)
    tasks = labels.tasks
    x = acts.layer(layer)
    rows = []
    for b, center in enumerate(centers):
        mask = keep & (nearest == b)
        head = {**base, "layer": layer, "rel_depth": layer / acts.n_layers, "fraction_bin": center}
        y = y_all[mask]
        if len(np.unique(groups[mask])) < config.folds or (len(y) == 0 or np.ptp(y) == 0):
            rows.append(
                {
                    **head,
                    "target": name,
                    "score": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "control_score": np.nan,
                    "n_items": len(np.unique(item_ids[mask])),
                    "n_rows": int(mask.sum()),
                }
            )
            continue
        control = labels._control(name, y_all, mask, item_ids, tasks, config)
        splits = nested_splits(groups[mask], config.folds, config.seed)
        stacked = np.column_stack([y, control])
        oof = ridge_nested_cv(x[mask], stacked, splits, np.asarray(config.alphas)).oof
        fits = {name: (mask, y, oof[:, 0], control, oof[:, 1:])}
        rows += fit_rows(fits, item_ids, config, head)
    return rows


def compare_to_teacher(
    predictions: pd.DataFrame, teacher: str, *, n_boot: int, seed: int
) -> pd.DataFrame:
    """Per model, reading and target: R^2(model) - R^2(teacher) at each one's best layer, with a
    paired bootstrap CI over the items both read (the same items drawn for both)."""
    rows = []
    keys = ["reading", "target"]
    for (reading, target), part in predictions.groupby(keys, sort=True):
        mine = part[part["model"] == teacher]
        if mine.empty:
            continue
        ref = (mine["item_id"].to_numpy(), mine["y"].to_numpy(), mine["prediction"].to_numpy())
        for model, other in part.groupby("model", sort=True):
            if model == teacher:
                continue
            side = (
                other["item_id"].to_numpy(),
                other["y"].to_numpy(),
                other["prediction"].to_numpy(),
            )
            diff = paired_difference(side, ref, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "model": model,
                    "reading": reading,
                    "target": target,
                    "layer": int(other["layer"].iloc[0]),
                    "teacher_layer": int(mine["layer"].iloc[0]),
                    "score": _r2(other),
                    "teacher_score": _r2(mine),
                    "diff": diff["diff"],
                    "ci_low": diff["ci_low"],
                    "ci_high": diff["ci_high"],
                    "n_items": diff["n_items"],
                }
            )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def _r2(frame: pd.DataFrame) -> float:
    y, p = frame["y"].to_numpy(float), frame["prediction"].to_numpy(float)
    ss = ((y - y.mean()) ** 2).sum()
    return float(1 - ((y - p) ** 2).sum() / ss) if ss > 0 else float("nan")
