"""Along-trace activations on disk: safetensors shards of rows plus a CSV row index.

A capture along the trace yields one row per (item, trace position), far more rows than items,
so rows are written shard by shard as they are computed (`resid` [rows, layers + 1, d_model]
per shard) and are never concatenated; readers take one layer at a time across shards, so
neither capture nor probing holds every layer of every row in memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from safetensors import safe_open

from mimicry.data.errors import InputError
from mimicry.data.fileio import atomic_dir, write_json, write_stamp
from mimicry.probes.capture.writer import ShardStore

ROW_TENSORS = ("item", "offset", "trace_len", "token_index", "prompt_len")
"""Integer tensors stored per row next to `resid` (`item` indexes the shard's item ids)."""
ROW_COLUMNS = (
    "row",
    "item_id",
    "offset",
    "trace_len",
    "fraction",
    "remaining",
    "token_index",
    "prompt_len",
    "shard",
)
STAGE = "effort_capture"


def rows_frame(tensors: dict[str, torch.Tensor], item_ids: list[str], shard: int) -> pd.DataFrame:
    """The row index of one shard: offset within the trace, fraction done, tokens remaining."""
    values = {k: tensors[k].numpy().astype(np.int64) for k in ROW_TENSORS}
    frame = pd.DataFrame(
        {
            "item_id": [item_ids[i] for i in values["item"]],
            "offset": values["offset"],
            "trace_len": values["trace_len"],
            "fraction": values["offset"] / np.maximum(values["trace_len"], 1),
            "remaining": values["trace_len"] - values["offset"],
            "token_index": values["token_index"],
            "prompt_len": values["prompt_len"],
            "shard": shard,
        }
    )
    return frame


class AlongWriter:
    """Resumable shards in `.<name>.partial`, published as one folder when all are written."""

    def __init__(self, directory: str | Path, inputs_hash: str) -> None:
        self.directory = Path(directory)
        self.inputs_hash = inputs_hash
        self.store = ShardStore(
            self.directory.with_name(f".{self.directory.name}.partial"), inputs_hash
        )

    def done(self, index: int) -> bool:
        return self.store.done(index)

    def write(self, index: int, tensors: dict[str, torch.Tensor], item_ids: list[str]) -> None:
        """Save one shard (`resid` plus the ROW_TENSORS) atomically."""
        self.store.write(index, tensors, item_ids)

    def finish(self, n_shards: int, manifest: dict) -> AlongActivations:
        """Write rows.csv and manifest.json, move the shards into the final folder, stamp it."""
        frames = []
        for index in range(n_shards):
            with safe_open(str(self.store.path(index)), framework="pt") as handle:
                tensors = {k: handle.get_tensor(k) for k in ROW_TENSORS}
            frames.append(rows_frame(tensors, self.store.item_ids(index), index))
        rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        rows.insert(0, "row", np.arange(len(rows)))
        with atomic_dir(self.directory) as tmp:
            for index in range(n_shards):
                os.replace(self.store.path(index), tmp / self.store.path(index).name)
            rows.to_csv(tmp / "rows.csv", index=False)
            write_json(
                tmp / "manifest.json", {**manifest, "n_rows": len(rows), "n_shards": n_shards}
            )
            write_stamp(tmp, self.inputs_hash, stage=STAGE)
        self.store.remove()
        return AlongActivations.open(self.directory)


@dataclass
class AlongActivations:
    """A finished along-trace capture: the row index in memory, activations read per layer."""

    directory: Path
    rows: pd.DataFrame
    manifest: dict

    @property
    def n_layers(self) -> int:
        return int(self.manifest["n_layers"])

    @property
    def d_model(self) -> int:
        return int(self.manifest["d_model"])

    @classmethod
    def open(cls, directory: str | Path) -> AlongActivations:
        """Read the manifest and row index and check they describe the same shards."""
        directory = Path(directory)
        manifest_path, rows_path = directory / "manifest.json", directory / "rows.csv"
        if not manifest_path.is_file() or not rows_path.is_file():
            raise InputError(
                "not an along-trace capture (manifest.json or rows.csv missing)", file=directory
            )
        manifest = json.loads(manifest_path.read_text())
        rows = pd.read_csv(rows_path, dtype={"item_id": str})
        if len(rows) != int(manifest["n_rows"]):
            raise InputError("rows.csv does not match the manifest", file=rows_path, field="n_rows")
        return cls(directory, rows, manifest)

    def shard_path(self, index: int) -> Path:
        return self.directory / f"shard-{index:05d}.safetensors"

    def layer(self, layer: int) -> Float[np.ndarray, "rows d_model"]:
        """Every row's residual at one layer (0 = embeddings), float32, in row order."""
        if not 0 <= layer <= self.n_layers:
            raise InputError(f"layer {layer} outside 0..{self.n_layers}", field="layer")
        out = np.empty((len(self.rows), self.d_model), dtype=np.float32)
        start = 0
        for index in range(int(self.manifest["n_shards"])):
            with safe_open(str(self.shard_path(index)), framework="pt") as handle:
                piece = handle.get_slice("resid")[:, layer, :].float().numpy()
            out[start : start + len(piece)] = piece
            start += len(piece)
        if start != len(out):
            raise InputError("shards hold fewer rows than rows.csv", file=self.directory)
        return out

    def all_layers(self) -> Float[np.ndarray, "rows layer d_model"]:
        """Every row at every layer (tests and small captures only: memory grows with rows)."""
        pieces = []
        for index in range(int(self.manifest["n_shards"])):
            with safe_open(str(self.shard_path(index)), framework="pt") as handle:
                pieces.append(handle.get_tensor("resid").float().numpy())
        return np.concatenate(pieces) if pieces else np.zeros((0, self.n_layers + 1, self.d_model))
