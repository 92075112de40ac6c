"""The probe stage: every model x position x layer x target, with baselines, controls and p.

Writes RUN/probes/{probes.csv, compare.csv, exclusions.csv, directions/} atomically and figures
to RUN/report/figures/probe_<target>_<position>.png.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_dir, hash_inputs, write_stamp
from mimicry.probes.compare import COMPARE_COLUMNS, compare_pair, load_roles, model_pairs
from mimicry.probes.config import ProbeConfig, resolve_config
from mimicry.probes.directions import difficulty_directions, save_directions
from mimicry.probes.probing.layers import PREDICTION_COLUMNS, PROBE_COLUMNS, fit_layers
from mimicry.probes.probing.run_reader import (
    base_models,
    check_surface_features,
    discover_models,
    random_init_baseline,
    read_item_table,
    read_run_traces,
)
from mimicry.probes.probing.targets import STAGE, difficulty_bin


def _aligned(items: pd.DataFrame, item_ids: list[str]) -> pd.DataFrame:
    return items.set_index("item_id", drop=False).loc[item_ids].reset_index(drop=True)


def _random_init_resid(run, models, name, position, item_ids):
    baseline = random_init_baseline(run, models, name)
    if baseline is None or position not in baseline.positions:
        return None
    resid = baseline.load(position)
    if baseline.item_ids != item_ids:
        if set(baseline.item_ids) != set(item_ids):
            raise InputError(
                f"random-init activations cover other items than {name!r}",
                file=baseline.directory / "manifest.json",
                field="item_ids",
            )
        resid = resid[pd.Index(baseline.item_ids).get_indexer(item_ids)]
    return resid


def run_probes(
    run: str | Path,
    *,
    items_path: str | Path | None = None,
    models: list[str] | None = None,
    config: ProbeConfig | None = None,
    roles: str | None = None,
    figures: bool = True,
    progress: Callable[[str], None] | None = None,
    **overrides,
) -> Path:
    """Run every probe of a run directory and write RUN/probes; returns that directory.

    `config` is the stage's `ProbeConfig` (targets, positions, folds, resamples; default: its
    defaults, the same as `mimicry probe` and the run config's); keyword overrides of its fields
    (targets=[...], n_perm=...) are validated on top.
    """
    run = Path(run)
    config = resolve_config(ProbeConfig, config, overrides)
    items_path = Path(items_path) if items_path else run / "items.csv"
    requested = list(config.targets)
    positions = config.positions
    items = read_item_table(items_path)
    check_surface_features(items, items_path)
    all_models = discover_models(run, items)
    names = base_models(run, all_models)
    if models:
        missing = [m for m in models if m not in names]
        if missing:
            raise InputError(
                f"no activations for model {missing[0]!r} (have: {names})", field="models"
            )
        names = list(models)
    exclusions = Exclusions()
    traces = read_run_traces(run, items["item_id"].tolist(), exclusions)
    roles_map = load_roles(run, roles, names)
    pairs = model_pairs(names, roles_map)
    all_positions = sorted({p for n in names for p in all_models[n].positions})
    chosen_positions = positions or all_positions
    for position in chosen_positions:
        if position not in all_positions:
            raise InputError(
                f"no activations at position {position!r} (have: {all_positions})",
                field="positions",
            )
    say = progress or (lambda _message: None)

    rows: list[dict] = []
    predictions: list[dict] = []
    compare_rows: list[dict] = []
    with atomic_dir(run / "probes") as out:
        for name in names:
            acts = all_models[name]
            outside = ~items["item_id"].isin(acts.item_ids)
            for task, n in items.loc[outside, "task"].value_counts().sort_index().items():
                exclusions.add(STAGE, "no_activations", model=name, task=str(task), n=int(n))
        for position in chosen_positions:
            held: dict[str, tuple[list[str], np.ndarray]] = {}
            directions: dict[str, np.ndarray] = {}
            for name in names:
                acts = all_models[name]
                if position not in acts.positions:
                    continue
                say(f"{name} {position}")
                resid = acts.load(position)
                aligned = _aligned(items, acts.item_ids)
                held[name] = (acts.item_ids, resid)
                bins = difficulty_bin(aligned).to_numpy(float)
                if np.isin([0, 2], bins).all():
                    found = difficulty_directions(resid, bins)
                    directions[name] = found["direction"]
                    save_directions(out / "directions" / name / f"{position}.safetensors", found)
                ledger = exclusions if position == chosen_positions[0] else Exclusions()
                model_rows, model_predictions = fit_layers(
                    resid,
                    aligned,
                    traces,
                    model=name,
                    position=position,
                    targets=requested,
                    config=config,
                    exclusions=ledger,
                    random_resid=_random_init_resid(run, all_models, name, position, acts.item_ids),
                    say=say,
                )
                rows += model_rows
                predictions += model_predictions
            for model_a, model_b, role_a, role_b in pairs:
                if model_a in held and model_b in held:
                    compare_rows += compare_pair(
                        model_a,
                        model_b,
                        held[model_a],
                        held[model_b],
                        directions.get(model_a),
                        directions.get(model_b),
                        position=position,
                        roles=(role_a, role_b),
                    )
        table = pd.DataFrame(rows, columns=list(PROBE_COLUMNS))
        table.to_csv(out / "probes.csv", index=False)
        pd.DataFrame(predictions, columns=list(PREDICTION_COLUMNS)).to_csv(
            out / "predictions.csv", index=False
        )
        pd.DataFrame(compare_rows, columns=list(COMPARE_COLUMNS)).to_csv(
            out / "compare.csv", index=False
        )
        exclusions.write_csv(out / "exclusions.csv")
        write_stamp(
            out,
            hash_inputs(items_path, run / "activations", config.model_dump(mode="json"), requested),
        )
    if figures and len(table):
        from mimicry.probes.probing.figures import plot_all

        plot_all(table, run / "report" / "figures")
    return run / "probes"
