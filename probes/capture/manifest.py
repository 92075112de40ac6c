"""The run-folder layout of one capture: manifest.json, the position files, exclusions.csv and
the entropy CSV, assembled from finished shards through the resumable shard store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from mimicry.data.errors import InputError
from mimicry.data.fileio import atomic_dir, write_json, write_stamp
from mimicry.probes.capture.inputs import REGIONS
from mimicry.probes.capture.results import write_entropy_csv, write_positions
from mimicry.probes.capture.settings import FORMAT_VERSION, CaptureSettings
from mimicry.probes.capture.texts import STAGE

FIXED_MANIFEST = {
    "format": FORMAT_VERSION,
    "padding_side": "left",
    "position_ids": "from attention mask",
    "resid_layout": "[items, layers + 1, d_model]; 0 = embeddings, "
    "l = output of block l before the final norm",
    "entropy_layer": "1-based block index, as resid",
    "entropy_regions": list(REGIONS),
}


def build_manifest(
    *,
    name: str,
    handle,
    item_ids: Sequence[str],
    settings: CaptureSettings,
    inputs_hash: str,
    n_excluded: int,
    batch_used: int,
    traces: Sequence[str | Path] = (),
) -> dict:
    """What `manifest.json` records: model, items in row order, sizes and every option."""
    config = handle.config
    return {
        "model": name,
        "source": handle.source,
        "architecture": handle.architecture.name,
        "item_ids": list(item_ids),
        "n_items": len(item_ids),
        "n_layers": config.num_hidden_layers,
        "d_model": config.hidden_size,
        "n_heads": config.num_attention_heads,
        "positions": list(settings.positions),
        "n_excluded": n_excluded,
        "inputs_hash": inputs_hash,
        "traces": [str(p) for p in traces],
        **{key: value for key, value in settings.hashed().items() if key != "format"},
        **_convention_fields(handle, settings),
        "batch_size": batch_used,
        "batch_size_requested": settings.batch_size,
        **FIXED_MANIFEST,
        "torch": torch.__version__,
        "trace_sample": 0 if traces else None,
    }


def _convention_fields(handle, settings: CaptureSettings) -> dict:
    """`template` as its legacy name and the resolved `prompt_convention` (None for a name)."""
    from mimicry.probes.capture.plan import resolved_convention

    convention = resolved_convention(handle, settings)
    if convention is None:
        return {"prompt_convention": None}
    return {
        "template": "raw" if convention.style == "plain" else "chat",
        "prompt_convention": convention.as_dict(),
        "think_tags": [convention.think_open, convention.think_close],
    }


def assemble(
    store, n_shards: int, manifest: dict, activations_dir: Path, entropy_path, exclusions
) -> None:
    """Entropy CSV first, then the activations folder (with its stamp) renamed into place."""
    if entropy_path is not None:
        write_entropy_csv(entropy_path, store, n_shards)
    shape = (manifest["n_items"], manifest["n_layers"] + 1, manifest["d_model"])
    with atomic_dir(activations_dir) as tmp:
        write_positions(store, tmp, manifest["positions"], n_shards, shape)
        write_json(tmp / "manifest.json", manifest)
        exclusions.write_csv(tmp / "exclusions.csv")
        write_stamp(tmp, manifest["inputs_hash"], stage=STAGE)


def items_copy_needed(items_df, run: Path, items_path: Path | None = None) -> bool:
    """Whether RUN/items.csv must be written; an existing, different table is an error."""
    from mimicry.data.items import read_items

    target = run / "items.csv"
    if not target.exists():
        return True
    if items_path is None or target.resolve() != Path(items_path).resolve():
        existing = read_items(target)
        if existing["item_id"].tolist() != items_df["item_id"].tolist() or (
            existing["prompt"].tolist() != items_df["prompt"].tolist()
        ):
            raise InputError(
                "the run directory already holds a different item table; use another --out",
                file=target,
                field="item_id",
            )
    return False


def write_items_copy(items_df, run: Path) -> None:
    """Keep the item table in RUN so later stages need only RUN."""
    from mimicry.data.items import write_items

    write_items(items_df, run / "items.csv")
