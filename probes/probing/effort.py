"""Probes of remaining effort along the trace: per layer, how well a linear read-out of the
residual at a trace position predicts the reasoning still to come, the fraction done, and the
item's human difficulty.

Rows are (item, trace position) pairs, so every split is grouped by the item's `group` (else its
id: an item's positions never sit on both sides of a split) and every CI resamples items.
Baselines beside each curve: the surface features visible at that position (offset into the
trace, prompt length, the item's feat_* columns; never the trace length or the fraction, since
remaining = length - offset and fraction = offset / length would give the answer away), the same
architecture at random init when captured, and control tasks (labels permuted within task:
an item's difficulty moves with the item, per-position labels are shuffled over the task's rows,
which keeps each task's label distribution and breaks the link to the activations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.probes.capture.along_store import AlongActivations
from mimicry.probes.config import EffortConfig, EffortTarget
from mimicry.probes.probing.effort_curves import bin_curve
from mimicry.probes.probing.effort_fit import (
    EffortLabels,
    fit_rows,
    fit_targets,
    item_frame,
    row_groups,
)
from mimicry.probes.probing.run_reader import surface_columns

EFFORT_TARGETS = get_args(EffortTarget)
BIN_TARGETS = ("remaining", "difficulty")
"""Targets also fitted per fraction bin (the fraction is constant within a bin)."""
EFFORT_COLUMNS = (
    "model",
    "reading",
    "layer",
    "rel_depth",
    "target",
    "feature_set",
    "score",
    "ci_low",
    "ci_high",
    "control_score",
    "n_items",
    "n_rows",
)
BIN_COLUMNS = (
    "model",
    "reading",
    "layer",
    "rel_depth",
    "target",
    "fraction_bin",
    "score",
    "ci_low",
    "ci_high",
    "control_score",
    "n_items",
    "n_rows",
)
PREDICTION_COLUMNS = ("model", "reading", "target", "layer", "item_id", "offset", "y", "prediction")


@dataclass
class EffortFit:
    """One model on one reading: the per-layer table, the per-bin curve, best-layer predictions."""

    table: pd.DataFrame
    bins: pd.DataFrame
    predictions: pd.DataFrame
    best_layer: dict[str, int] = field(default_factory=dict)


def surface_features(rows: pd.DataFrame, items: pd.DataFrame) -> np.ndarray:
    """What is visible at the position without the activations: offset, prompt length, feat_*."""
    aligned = item_frame(rows, items)
    columns = [rows["offset"].to_numpy(float), rows["prompt_len"].to_numpy(float)]
    columns += [aligned[c].astype(float).to_numpy() for c in surface_columns(items)]
    return np.column_stack(columns)


def probe_effort(
    acts: AlongActivations,
    items: pd.DataFrame,
    *,
    model: str,
    reading: str,
    config: EffortConfig | None = None,
    random_init: AlongActivations | None = None,
    exclusions: Exclusions | None = None,
    label: str | None = None,
) -> EffortFit:
    """Probe every layer of one along-trace capture for each target, with all baselines.

    Args:
        acts: the capture (`capture_along`); items: the item table (task, group, human_rt_ms,
            feat_*); model, reading: labels of the table rows.
        random_init: the same texts read by the architecture at random init (rows are matched
            by item and offset), or None.
        exclusions, label: ledger for rows without a target, and the name it records.

    Returns:
        The per-layer table (activations, random_init, surface), the per-fraction-bin curve at
        each target's best activation layer, and that layer's out-of-fold predictions per row.
    """
    config = config or EffortConfig()
    exclusions = exclusions if exclusions is not None else Exclusions()
    rows = acts.rows
    groups, tasks = row_groups(rows, items)
    labels = EffortLabels(
        rows, items, config.targets, config, groups, tasks, exclusions, label or model
    )
    if not labels.targets:
        empty = pd.DataFrame(columns=list(EFFORT_COLUMNS))
        return EffortFit(
            empty,
            pd.DataFrame(columns=list(BIN_COLUMNS)),
            pd.DataFrame(columns=list(PREDICTION_COLUMNS)),
        )
    random_rows = _aligned_random(acts, random_init)
    item_ids = rows["item_id"].to_numpy(str)
    cache: dict = {}
    table, oofs = [], {}
    n_layers = acts.n_layers
    for layer in range(n_layers + 1):
        base = {"model": model, "reading": reading, "layer": layer, "rel_depth": layer / n_layers}
        fits = fit_targets(acts.layer(layer), labels, groups, config, cache)
        oofs[layer] = {name: fit[2] for name, fit in fits.items()}
        table += fit_rows(fits, item_ids, config, {**base, "feature_set": "activations"})
        if random_rows is not None:
            fits = fit_targets(random_init.layer(layer)[random_rows], labels, groups, config, cache)
            table += fit_rows(fits, item_ids, config, {**base, "feature_set": "random_init"})
    fits = fit_targets(surface_features(rows, items), labels, groups, config, cache)
    surface = {"model": model, "reading": reading, "layer": -1, "rel_depth": np.nan}
    table += fit_rows(fits, item_ids, config, {**surface, "feature_set": "surface"})
    frame = pd.DataFrame(table, columns=list(EFFORT_COLUMNS))
    best, predictions, bins = {}, [], []
    for name, (keep, y, _) in labels.targets.items():
        scores = frame[(frame.feature_set == "activations") & (frame.target == name)]
        best[name] = (
            int(scores.loc[scores["score"].idxmax(), "layer"])
            if scores["score"].notna().any()
            else n_layers
        )
        predictions.append(
            pd.DataFrame(
                {
                    "model": model,
                    "reading": reading,
                    "target": name,
                    "layer": best[name],
                    "item_id": item_ids[keep],
                    "offset": rows["offset"].to_numpy()[keep],
                    "y": y[keep],
                    "prediction": oofs[best[name]][name],
                }
            )
        )
    for name in [t for t in BIN_TARGETS if t in labels.targets]:
        bins += bin_curve(
            acts,
            items,
            labels,
            name,
            best[name],
            groups,
            config,
            {"model": model, "reading": reading},
        )
    return EffortFit(
        frame,
        pd.DataFrame(bins, columns=list(BIN_COLUMNS)),
        pd.concat(predictions, ignore_index=True)[list(PREDICTION_COLUMNS)],
        best,
    )


def _aligned_random(acts: AlongActivations, random_init: AlongActivations | None):
    """Row order of the random-init capture matching `acts` (same items and offsets), or None."""
    if random_init is None:
        return None
    key = ["item_id", "offset"]
    index = pd.MultiIndex.from_frame(random_init.rows[key])
    wanted = pd.MultiIndex.from_frame(acts.rows[key])
    order = index.get_indexer(wanted)
    if (order < 0).any():
        raise InputError(
            "the random-init capture read other trace positions than the model",
            file=random_init.directory,
        )
    return order
