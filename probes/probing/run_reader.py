"""Read a run directory's item table, activations and traces, and check they line up.

Activations live in `RUN/activations/<model>/<position>.safetensors` (tensor `resid`
[items, layers+1, d_model]) next to a `manifest.json` whose `item_ids` give the row order. Any
mismatch between the manifest, the tensor and the item table is an input error: a silently
misaligned row would pair one item's activations with another item's difficulty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.items import read_items
from mimicry.data.models import read_roster

TENSOR_NAME = "resid"


def read_item_table(path: str | Path) -> pd.DataFrame:
    """The validated item table (INTERFACES §1), `group` filled from `task` when absent."""
    path = Path(path)
    if not path.is_file():
        raise InputError("item table not found", file=path)
    return read_items(path)


def surface_columns(items: pd.DataFrame) -> list[str]:
    """The `feat_*` surface-feature columns."""
    return [c for c in items.columns if str(c).startswith("feat_")]


def check_surface_features(items: pd.DataFrame, path: str | Path) -> None:
    """NaN or non-numeric surface features are input errors (they would poison every fit)."""
    for column in surface_columns(items):
        values = pd.to_numeric(items[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise InputError(
                f"surface feature is missing or not a finite number: {items[column].iloc[row - 1]!r}",
                file=path,
                row=row,
                field=column,
            )


@dataclass
class ModelActivations:
    """One model's captured activations, aligned to the manifest's item order."""

    name: str
    directory: Path
    item_ids: list[str]
    n_layers: int
    d_model: int
    positions: list[str]
    manifest: dict

    def load(self, position: str) -> np.ndarray:
        """The validated [items, layers+1, d_model] float32 array for one position."""
        from safetensors.numpy import load_file

        path = self.directory / f"{position}.safetensors"
        if not path.is_file():
            raise InputError(f"no activations for position {position!r}", file=path)
        try:
            tensors = load_file(str(path))
        except Exception as error:  # noqa: BLE001 - any unreadable file is bad input
            raise InputError(f"unreadable safetensors file: {error}", file=path) from error
        if TENSOR_NAME not in tensors:
            raise InputError(f"tensor {TENSOR_NAME!r} missing", file=path, field=TENSOR_NAME)
        resid = tensors[TENSOR_NAME]
        expected = (len(self.item_ids), self.n_layers + 1, self.d_model)
        if resid.shape != expected:
            raise InputError(
                f"tensor shape {tuple(resid.shape)} does not match the manifest "
                f"(items, layers+1, d_model) = {expected}",
                file=path,
                field=TENSOR_NAME,
            )
        resid = resid.astype(np.float32, copy=False)
        finite = np.isfinite(resid).all(axis=(1, 2))
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            raise InputError(
                f"NaN or infinite activations for item {self.item_ids[row]!r}",
                file=path,
                row=row + 1,
                field=TENSOR_NAME,
            )
        return resid


def read_manifest(directory: Path, known_ids: set[str]) -> ModelActivations:
    """Parse and validate one model's manifest against the item table."""
    path = directory / "manifest.json"
    if not path.is_file():
        raise InputError("manifest.json missing", file=path)
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", file=path, row=error.lineno) from error
    for key in ("item_ids", "n_layers", "d_model", "positions"):
        if key not in manifest:
            raise InputError("required key missing", file=path, field=key)
    item_ids = [str(i) for i in manifest["item_ids"]]
    if len(set(item_ids)) != len(item_ids):
        raise InputError("duplicate item ids", file=path, field="item_ids")
    unknown = [i for i in item_ids if i not in known_ids]
    if unknown:
        raise InputError(
            f"{len(unknown)} item ids are not in the item table (first: {unknown[0]!r}); "
            "activations and items.csv come from different item sets",
            file=path,
            field="item_ids",
        )
    return ModelActivations(
        name=directory.name,
        directory=directory,
        item_ids=item_ids,
        n_layers=int(manifest["n_layers"]),
        d_model=int(manifest["d_model"]),
        positions=[str(p) for p in manifest["positions"]],
        manifest=manifest,
    )


def discover_models(run: str | Path, items: pd.DataFrame) -> dict[str, ModelActivations]:
    """Every model folder under RUN/activations (random-init baselines included), validated."""
    root = Path(run) / "activations"
    folders = sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise InputError("no activations found (run `mimicry capture` first)", file=root)
    known = set(items["item_id"].astype(str))
    return {folder.name: read_manifest(folder, known) for folder in folders}


def base_models(run: str | Path, models: dict[str, ModelActivations]) -> list[str]:
    """Models that are not random-init baselines (by the run's model records)."""
    roster = read_roster(run, models)
    return [name for name in models if not roster.is_random_init(name)]


def random_init_baseline(
    run: str | Path, models: dict[str, ModelActivations], name: str
) -> ModelActivations | None:
    """The activations of `name`'s random-init baseline, when the run captured one."""
    record = read_roster(run, models).baseline_of(name)
    return None if record is None else models.get(record.name)


def read_run_traces(run: str | Path, item_ids, exclusions) -> pd.DataFrame | None:
    """All trace files of the run in one frame (exclusions merged), or None when there are none."""
    paths = sorted((Path(run) / "traces").glob("*.jsonl"))
    if not paths:
        return None
    from mimicry.data.traces import read_traces

    frame, _ = read_traces(paths, item_ids=item_ids, exclusions=exclusions)
    return frame
