"""Per-layer probes of one model at one position: the rows of probes.csv, and the in-memory API.

`fit_layers` is the core the probe stage runs for every model x position; `probe_layers` runs it
on activations in memory (a `Capture`, or an array aligned to an item table) and returns a
`ProbeTable`, whose `.plot(ax=)` draws the per-layer curve with its CI band and the baselines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from jaxtyping import Float

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.probes.config import ProbeConfig, resolve_config
from mimicry.probes.probing.cv import grouped_splits, nested_splits
from mimicry.probes.probing.probe import run_probe
from mimicry.probes.probing.run_reader import check_surface_features, surface_columns
from mimicry.probes.probing.targets import HUMAN_TARGETS, STAGE, build_targets

PROBE_COLUMNS = (
    "model",
    "position",
    "layer",
    "rel_depth",
    "target",
    "probe",
    "feature_set",
    "score",
    "ci_low",
    "ci_high",
    "control_score",
    "selectivity",
    "p_value",
    "n_items",
    "metric",
)
PREDICTION_COLUMNS = ("model", "position", "layer", "target", "item_id", "y", "prediction")
PRIMARY_METRICS = ("r2", "auroc", "balanced_accuracy")

Resid = Float[np.ndarray, "items layers_plus_1 d_model"]


def surface_matrix(items: pd.DataFrame) -> np.ndarray:
    """feat_* columns plus prompt length in characters and words."""
    columns = [items[c].astype(float).to_numpy() for c in surface_columns(items)]
    prompts = items["prompt"].astype(str)
    columns += [prompts.str.len().to_numpy(float), prompts.str.split().str.len().to_numpy(float)]
    return np.column_stack(columns)


def fit_layers(
    resid: Resid,
    aligned: pd.DataFrame,
    traces: pd.DataFrame | None,
    *,
    model: str,
    position: str,
    targets: Sequence[str],
    config: ProbeConfig,
    exclusions: Exclusions,
    random_resid: Resid | None = None,
    say: Callable[[str], None] = lambda _message: None,
) -> tuple[list[dict], list[dict]]:
    """Rows (PROBE_COLUMNS) and out-of-fold predictions of every target of one model at one
    position; `aligned` is the item table in the row order of `resid`."""
    model_targets = build_targets(aligned, traces, model, list(targets), exclusions)
    surface = surface_matrix(aligned)
    rows: list[dict] = []
    predictions: list[dict] = []
    groups = aligned["group"].astype(str).to_numpy()
    grouped_splits(groups, config.folds, config.seed, what="items")  # too coarse a table: exit 2
    for target in model_targets.values():
        kept = np.isfinite(target.values)
        n_groups = len(np.unique(groups[kept]))
        if n_groups < config.folds:
            # e.g. own_length of a model that parsed few items: grouped CV is impossible for this
            # target alone, so it is skipped and counted instead of failing the stage
            exclusions.add(
                STAGE,
                "too_few_groups",
                model=model,
                n=int(kept.sum()),
                example=f"{target.name} at {position}: {n_groups} item groups among "
                f"{int(kept.sum())} items with a value, {config.folds} grouped folds asked",
            )
            continue
        say(f"{model} {position} {target.name}")
        target_rows, target_predictions, one_class = probe_target(
            model, position, target, aligned, resid, random_resid, surface, config
        )
        rows += target_rows
        predictions += target_predictions
        if sum(one_class.values()):
            exclusions.add(
                STAGE,
                "one_class_training_fold",
                model=model,
                n=sum(one_class.values()),
                example=f"{target.name}: outer-fold fits with one class in training (they "
                f"predict a constant): {one_class['real']} real, {one_class['control']} "
                f"control, {one_class['permutation']} permutation",
            )
    return rows, predictions


def worker_count(n_jobs: int) -> int:
    """Worker processes for `n_jobs` (0: one per CPU core this process may use)."""
    if n_jobs:
        return n_jobs
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def probe_target(name, position, target, aligned, resid, random_resid, surface, config):
    """All rows of one target (each layer, embedding mark, random-init, surface, control), the
    activation probes' out-of-fold predictions per item, and its one-class fold counts."""
    keep = np.isfinite(target.values)
    y = target.values[keep]
    if target.kind == "class":
        _, y = np.unique(y, return_inverse=True)
    groups = aligned["group"].astype(str).to_numpy()[keep]
    tasks = aligned["task"].astype(str).to_numpy()[keep]
    splits = nested_splits(groups, config.folds, config.seed)
    n_layers = resid.shape[1] - 1
    probe = "ridge" if target.kind == "continuous" else f"{config.class_probe}_classifier"
    base = {
        "model": name,
        "position": position,
        "target": target.name,
        "probe": probe.replace("logistic_classifier", "logistic"),
        "n_items": int(keep.sum()),
    }
    features = [resid[keep, layer] for layer in range(n_layers + 1)]
    if random_resid is not None:
        features += [random_resid[keep, layer] for layer in range(n_layers + 1)]
    features.append(surface[keep])
    fits = _fit_all(features, y, target, tasks, splits, config)
    rows: list[dict] = []
    predictions: list[dict] = []
    item_ids = aligned["item_id"].astype(str).to_numpy()[keep]
    for layer in range(n_layers + 1):
        results = fits[layer]
        rows += _rows(base, results, "activations", layer, layer / n_layers, True)
        predictions += _prediction_rows(base, results, layer, item_ids)
        if layer == 0:
            rows += _rows(base, results, "embedding", 0, 0.0, False)
        if random_resid is not None:
            baseline = fits[n_layers + 1 + layer]
            rows += _rows(base, baseline, "random_init", layer, layer / n_layers, False)
    rows += _rows(base, fits[-1], "surface", -1, float("nan"), False)
    return rows, predictions, fits[0][0].one_class_folds


def _fit_all(features, y, target, tasks, splits, config) -> list:
    """`run_probe` on every feature matrix, in `config.n_jobs` worker processes."""
    jobs = min(worker_count(config.n_jobs), len(features))
    arguments = (y, target.kind, tasks, splits, config)
    if jobs <= 1:
        return [run_probe(x, *arguments, n_classes=target.n_classes) for x in features]
    from joblib import Parallel, delayed

    fit = delayed(run_probe)
    return Parallel(n_jobs=jobs)(fit(x, *arguments, n_classes=target.n_classes) for x in features)


def _rows(
    base: dict, results, feature_set: str, layer, rel_depth, with_control: bool
) -> list[dict]:
    rows = []
    for result in results:
        row = {
            **base,
            "layer": layer,
            "rel_depth": rel_depth,
            "feature_set": feature_set,
            "metric": result.metric,
            "score": result.score,
            "ci_low": result.ci_low,
            "ci_high": result.ci_high,
            "control_score": result.control_score,
            "selectivity": result.selectivity,
            "p_value": result.p_value,
        }
        rows.append(row)
        if with_control:
            rows.append(
                {
                    **row,
                    "feature_set": "control",
                    "score": result.control_score,
                    "ci_low": result.control_ci_low,
                    "ci_high": result.control_ci_high,
                    "control_score": float("nan"),
                    "selectivity": float("nan"),
                    "p_value": float("nan"),
                }
            )
    return rows


def _prediction_rows(base: dict, results, layer: int, item_ids) -> list[dict]:
    """Out-of-fold predictions of one activation probe (continuous targets: one per item)."""
    result = results[0]
    if base["probe"] != "ridge" or not len(result.oof):
        return []
    return [
        {
            "model": base["model"],
            "position": base["position"],
            "layer": layer,
            "target": base["target"],
            "item_id": item,
            "y": float(y),
            "prediction": float(p),
        }
        for item, y, p in zip(item_ids, result.y, result.oof, strict=True)
    ]


@dataclass(repr=False)
class ProbeTable:
    """Per-layer probe results: `table` has the columns of probes.csv (layer x target x feature
    set: score, CI, control score, selectivity, p); `predictions` the out-of-fold predictions."""

    table: pd.DataFrame
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    )
    exclusions: Exclusions = field(default_factory=Exclusions)

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return f"ProbeTable({len(self.table)} rows; primary metrics:\n{self.primary()!r})"

    def _repr_html_(self) -> str:
        return self.primary().to_html(index=False, float_format="{:.3f}".format)

    def primary(self) -> pd.DataFrame:
        """The rows of each probe's primary metric (R^2, AUROC or balanced accuracy)."""
        return self.table[self.table["metric"].isin(PRIMARY_METRICS)].reset_index(drop=True)

    def plot(self, ax=None, *, target: str | None = None, position: str | None = None):
        """Score against relative depth with its CI band, one curve per model, and the control,
        random-init and surface baselines beside it; draws onto `ax` (a new figure's axes when
        None) and returns it. `target`/`position` default to the table's first."""
        from mimicry.probes.probing.figures import draw_target

        rows = self.primary()
        if rows.empty:
            raise InputError("no probe rows to plot", field="targets")
        target = target or str(rows["target"].iloc[0])
        position = position or str(rows["position"].iloc[0])
        chosen = rows[(rows["target"] == target) & (rows["position"] == position)]
        if chosen.empty:
            raise InputError(f"no rows for target {target!r} at {position!r}", field="target")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6.4, 4.0))
        draw_target(ax, chosen, target, position)
        return ax


def probe_layers(
    activations: Any,
    items: pd.DataFrame | None = None,
    *,
    traces: pd.DataFrame | None = None,
    model: str | None = None,
    trace_model: str | None = None,
    random_init: Any = None,
    config: ProbeConfig | None = None,
    **overrides,
) -> ProbeTable:
    """Fit a probe per layer for each target, with the stage's controls and statistics.

    Args:
        activations: a `Capture` (its items and item order are used), or an array / tensor
            [items, layers + 1, d_model] whose rows follow `items`, or a dict position -> such.
        items: the item table (default: the capture's); needs `task` (and `group`, else task)
            plus the norms the targets read.
        traces: a traces DataFrame (as `data.traces.read_traces` gives) for own_length/correct.
        model: the model's name in the table (default: the capture's name, else "model").
        trace_model: whose traces the model targets read (default: `model`, or the only one).
        random_init: the same architecture at random init, in the same form, as a baseline.
        config: the stage's `ProbeConfig`: targets (default: its targets, without those that
            need traces when none are given), positions (default: all of the capture), folds,
            seed, bootstrap and permutation counts; keyword overrides of its fields
            (targets=[...], positions=[...], n_boot=...) are validated on top.
    """
    from mimicry.data.items import validate_items

    chosen = "targets" in overrides or (config is not None and "targets" in config.model_fields_set)
    config = resolve_config(ProbeConfig, config, overrides)
    targets, positions = config.targets, config.positions
    if traces is None and not chosen:
        targets = [t for t in targets if t in HUMAN_TARGETS]
    by_position, item_ids, name, items = _as_positions(activations, items, model)
    items = validate_items(items)
    check_surface_features(items, "<items>")
    aligned = _aligned(items, item_ids)
    requested = list(targets)
    traces = _traces_for(traces, trace_model or name, name)
    baseline = None if random_init is None else _as_positions(random_init, items, name)[0]
    exclusions = Exclusions()
    rows, predictions = [], []
    for k, position in enumerate(positions or list(by_position)):
        if position not in by_position:
            raise InputError(f"no activations at position {position!r}", field="positions")
        found_rows, found_predictions = fit_layers(
            by_position[position],
            aligned,
            traces,
            model=name,
            position=position,
            targets=requested,
            config=config,
            exclusions=exclusions if k == 0 else Exclusions(),
            random_resid=None if baseline is None else baseline[position],
        )
        rows += found_rows
        predictions += found_predictions
    return ProbeTable(
        pd.DataFrame(rows, columns=list(PROBE_COLUMNS)),
        pd.DataFrame(predictions, columns=list(PREDICTION_COLUMNS)),
        exclusions,
    )


def _as_positions(activations, items, model):
    """(position -> float32 array, item ids, model name, items) from a Capture or arrays."""
    if hasattr(activations, "activations") and hasattr(activations, "item_ids"):
        arrays = {p: _array(t) for p, t in activations.activations.items()}
        item_ids = list(activations.item_ids)
        name = model or activations.name
        items = activations.items if items is None else items
    else:
        if items is None:
            raise InputError("activations without a Capture need their items", field="items")
        arrays = (
            {p: _array(t) for p, t in activations.items()}
            if isinstance(activations, dict)
            else {"activations": _array(activations)}
        )
        item_ids = items["item_id"].astype(str).tolist()
        name = model or "model"
    for position, array in arrays.items():
        if array.ndim != 3 or array.shape[0] != len(item_ids):
            raise InputError(
                f"activations at {position!r} have shape {array.shape}; expected "
                f"[items ({len(item_ids)}), layers + 1, d_model]",
                field="activations",
            )
    return arrays, item_ids, name, items


def _array(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().float().numpy()
    return np.asarray(values, dtype=np.float32)


def _aligned(items: pd.DataFrame, item_ids: list[str]) -> pd.DataFrame:
    missing = [i for i in item_ids if i not in set(items["item_id"])]
    if missing:
        raise InputError(f"item {missing[0]!r} is not in the item table", field="item_id")
    return items.set_index("item_id", drop=False).loc[item_ids].reset_index(drop=True)


def _traces_for(traces: pd.DataFrame | None, wanted: str, name: str) -> pd.DataFrame | None:
    """The traces of `wanted`, renamed to the model's name (or the only model's traces)."""
    if traces is None:
        return None
    models = sorted(traces["model"].astype(str).unique())
    if wanted not in models:
        if len(models) != 1:
            raise InputError(
                f"traces hold {', '.join(models)}; choose one with trace_model=", field="model"
            )
        wanted = models[0]
    chosen = traces[traces["model"].astype(str) == wanted]
    return chosen.assign(model=name, item_id=chosen["item_id"].astype(str))
