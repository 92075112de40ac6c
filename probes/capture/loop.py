"""The one capture loop: encoded items -> shards of position-reduced residuals and entropy.

Both entry points run it: the in-memory `capture` keeps every shard, the run-folder stage writes
each to disk as it finishes (and skips the shards an interrupted run already wrote).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor

from mimicry.probes.capture.inputs import EncodedItem, collate, plan_batches
from mimicry.probes.capture.positions import position_weights
from mimicry.probes.capture.results import resid_key


def n_shards(n_items: int, shard_size: int) -> int:
    return (n_items + shard_size - 1) // shard_size


def iter_shards(
    engine,
    encoded: Sequence[EncodedItem],
    positions: Sequence[str],
    *,
    pad_id: int,
    device: str,
    batch_size: int,
    shard_size: int,
    done: Callable[[int], bool] = lambda _index: False,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, list[EncodedItem], dict[str, Tensor]]]:
    """Yield `(index, items, tensors)` for every shard not `done`, in order."""
    for index in range(n_shards(len(encoded), shard_size)):
        if done(index):
            continue
        shard = list(encoded[index * shard_size : (index + 1) * shard_size])
        yield (
            index,
            shard,
            capture_shard(engine, shard, positions, pad_id, device, batch_size, on_batch),
        )


def capture_shard(
    engine, shard, positions, pad_id, device, batch_size, on_batch
) -> dict[str, torch.Tensor]:
    """Run one shard batch by batch (similar lengths together), rows back in shard order.

    Returns `resid.<position>` [items, layers + 1, d_model], `has_trace` [items] and, with
    entropy, `entropy` and `entropy_norm` [items, layers, heads, regions].
    """
    resid = entropy = norm = None
    for rows in plan_batches([len(e.input_ids) for e in shard], batch_size):
        batch = collate([shard[i] for i in rows], pad_id).to(device)
        result = engine.run(batch, position_weights(batch, positions, torch.float32))
        if resid is None:
            resid = torch.zeros((len(shard), *result.resid.shape[1:]), dtype=torch.float32)
            if result.entropy is not None:
                entropy = torch.zeros((len(shard), *result.entropy.shape[1:]), dtype=torch.float32)
                norm = torch.zeros_like(entropy)
        index = torch.tensor(rows)
        resid[index] = result.resid.float().cpu()
        if entropy is not None:
            entropy[index] = result.entropy.float().cpu()
            norm[index] = result.entropy_norm.float().cpu()
        if on_batch is not None:
            on_batch(len(rows))
    tensors = {resid_key(p): resid[:, :, k] for k, p in enumerate(positions)}
    tensors["has_trace"] = torch.tensor([e.has_trace for e in shard])
    if entropy is not None:
        tensors["entropy"], tensors["entropy_norm"] = entropy, norm
    return tensors
