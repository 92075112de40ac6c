"""Assemble finished shards into the run-directory files probes read."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from mimicry.data.fileio import atomic_file
from mimicry.probes.capture.inputs import REGIONS
from mimicry.probes.capture.writer import ShardStore, write_concatenated

ENTROPY_COLUMNS = ("item_id", "layer", "head", "region", "entropy", "entropy_norm")


def resid_key(position: str) -> str:
    return f"resid.{position}"


def write_positions(
    store: ShardStore,
    out_dir: Path,
    positions: Sequence[str],
    n_shards: int,
    shape: tuple[int, int, int],
) -> None:
    """One `<position>.safetensors` per position holding `resid` [items, layers + 1, d_model]."""
    for position in positions:
        write_concatenated(
            out_dir / f"{position}.safetensors",
            "resid",
            store.tensors(resid_key(position), n_shards),
            shape,
            torch.float32,
            metadata={"position": position},
        )


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.9g}"


def entropy_rows(
    entropy: Float[Tensor, "items layers heads regions"],
    norm: Float[Tensor, "items layers heads regions"],
    item_ids: Sequence[str],
    has_trace: Sequence[bool],
) -> Iterator[tuple[str, int, int, str, float, float]]:
    """`(item_id, layer, head, region, entropy, entropy_norm)` per item, layer, head and region.

    `layer` is 1-based like `resid` (layer l = the attention of block l); the trace region is
    given only for items that have a trace.
    """
    for i, item_id in enumerate(item_ids):
        for layer in range(entropy.shape[1]):
            for head in range(entropy.shape[2]):
                for r, region in enumerate(REGIONS):
                    if region == "trace" and not has_trace[i]:
                        continue
                    yield (
                        item_id,
                        layer + 1,
                        head,
                        region,
                        float(entropy[i, layer, head, r]),
                        float(norm[i, layer, head, r]),
                    )


def write_entropy_csv(path: Path, store: ShardStore, n_shards: int) -> int:
    """Stream the `entropy_rows` of every shard to a CSV, shard by shard; returns the row count."""
    rows = 0
    with atomic_file(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ENTROPY_COLUMNS)
        for index, (entropy, norm) in enumerate(
            zip(
                store.tensors("entropy", n_shards),
                store.tensors("entropy_norm", n_shards),
                strict=True,
            )
        ):
            for row in entropy_rows(
                entropy, norm, store.item_ids(index), store_has_trace(store, index)
            ):
                writer.writerow((*row[:4], _number(row[4]), _number(row[5])))
                rows += 1
    return rows


def store_has_trace(store: ShardStore, index: int) -> list[bool]:
    """Per item of a shard, whether it had a trace region."""
    return [bool(v) for v in store.tensor(index, "has_trace").tolist()]
