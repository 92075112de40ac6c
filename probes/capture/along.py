"""Capture along the reasoning trace: every layer's residual at many positions of each trace.

The per-item capture (`probes.capture.run`) reads one vector per item; questions about dynamic
allocation ("does the model know how much work is left?") need the residual at positions along
the trace, each with its offset, the trace's length and the tokens still to come before the
think close. Plain forward hooks at the module paths of `probes.architectures` gather only the
requested positions inside the forward pass (one index per layer), so the cost stays close to a
bare forward and no [batch, seq, d_model] tensor is kept. Layout as the per-item capture:
layer 0 = embeddings (input of block 0), layer l = output of block l before the final norm.

Trace positions: offset 0 is the think-open token (the plan, before any reasoning), offset o the
o-th reasoning token, offset L (= trace length) the last reasoning token, after which the think
close comes; so `remaining = L - offset` tokens of reasoning are still to be produced and
`fraction = offset / L`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import hash_inputs, is_fresh
from mimicry.probes.architectures import Architecture, resolve_path, validate_architecture
from mimicry.probes.capture.along_inputs import (
    DEFAULT_FRACTIONS,
    AlongItem,
    AlongOptions,
    encode_along,
    parsed_reasoning,
    plan_shards,
    token_batches,
    trace_offsets,
)
from mimicry.probes.capture.along_store import AlongActivations, AlongWriter
from mimicry.probes.capture.inputs import collate

__all__ = [
    "DEFAULT_FRACTIONS",
    "AlongItem",
    "AlongOptions",
    "capture_along",
    "encode_along",
    "gather_layers",
    "parsed_reasoning",
    "plan_shards",
    "run_batch",
    "token_batches",
    "trace_offsets",
    "write_shards",
]
FORMAT_VERSION = 1


@contextlib.contextmanager
def gather_layers(
    model,
    architecture: Architecture,
    rows: Int[Tensor, " r"],
    cols: Int[Tensor, " r"],
    out: Float[Tensor, "r layer d_model"],
) -> Iterator[None]:
    """Forward hooks that copy hidden[rows, cols] of the embeddings and every block into `out`."""
    layers = resolve_path(model, architecture.layers)

    def store(k: int, hidden: Tensor) -> None:
        device = hidden.device
        out[:, k] = hidden[rows.to(device), cols.to(device)].to(out.device, torch.float32)

    def first(_module, args, kwargs):
        store(0, args[0] if args else kwargs["hidden_states"])

    def after(k):
        def hook(_module, _args, output):
            store(k, output[0] if isinstance(output, tuple) else output)

        return hook

    handles = [layers[0].register_forward_pre_hook(first, with_kwargs=True)]
    handles += [block.register_forward_hook(after(k + 1)) for k, block in enumerate(layers)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_batch(
    model, architecture: Architecture, batch: Sequence[AlongItem], pad_id: int
) -> tuple[Float[Tensor, "r layer d_model"], dict[str, Tensor]]:
    """One left-padded forward; the residual at every requested offset of every item."""
    collated = collate([a.item for a in batch], pad_id)
    width = collated.input_ids.shape[1]
    keys = ("offset", "trace_len", "token_index", "prompt_len", "batch_row")
    rows, cols, meta = [], [], {k: [] for k in keys}
    for b, along in enumerate(batch):
        pad = width - len(along.item.input_ids)
        for offset in along.offsets:
            rows.append(b)
            cols.append(pad + along.start + offset)
            meta["offset"].append(offset)
            meta["trace_len"].append(along.trace_len)
            meta["token_index"].append(along.start + offset)
            meta["prompt_len"].append(along.item.prompt_len)
            meta["batch_row"].append(b)
    config = model.config
    out = torch.empty((len(rows), config.num_hidden_layers + 1, config.hidden_size))
    device = model.device
    with (
        torch.inference_mode(),
        gather_layers(model, architecture, torch.tensor(rows), torch.tensor(cols), out),
    ):
        model(
            input_ids=collated.input_ids.to(device),
            attention_mask=collated.attention_mask.to(device),
            position_ids=collated.position_ids.to(device),
            use_cache=False,
            logits_to_keep=1,
        )
    return out, {k: torch.tensor(v, dtype=torch.long) for k, v in meta.items()}


def write_shards(
    model, architecture: Architecture, encoded: Sequence[AlongItem], shards, writer, pad_id: int
) -> None:
    """Run the planned batches shard by shard; shards an earlier run finished are skipped."""
    for index, batches in enumerate(shards):
        if writer.done(index):
            continue
        resid, meta, ids = [], {}, []
        for batch in batches:
            chunk = [encoded[i] for i in batch]
            out, rows = run_batch(model, architecture, chunk, pad_id)
            resid.append(out)
            rows["item"] = rows.pop("batch_row") + len(ids)
            ids += [a.item.item_id for a in chunk]
            for key, value in rows.items():
                meta.setdefault(key, []).append(value)
        tensors = {"resid": torch.cat(resid), **{k: torch.cat(v) for k, v in meta.items()}}
        writer.write(index, tensors, ids)


def capture_along(
    model,
    tokenizer,
    items: pd.DataFrame,
    reasoning: dict[str, str],
    out_dir,
    *,
    name: str,
    options: AlongOptions | None = None,
    model_key: object = None,
    exclusions: Exclusions | None = None,
    label: str | None = None,
) -> AlongActivations:
    """Capture every layer at trace positions of each item's prompt + trace into `out_dir`.

    Args:
        model, tokenizer: a loaded HF causal LM (eval mode) and its tokenizer.
        items: item table (item_id, task, prompt).
        reasoning: item_id -> reasoning text (see `parsed_reasoning`).
        out_dir: folder to write (shards, rows.csv, manifest.json); resumed shard by shard.
        name: model name for the manifest and the exclusions ledger.
        model_key: identity of the weights (e.g. `model_fingerprint(path)`); with it an up-to-date
            `out_dir` is reused, without it the capture always runs.
        label: how the exclusions ledger names this capture (default `name`).
    """
    options = options or AlongOptions()
    exclusions = exclusions if exclusions is not None else Exclusions()
    architecture = validate_architecture(model)
    encoded = encode_along(
        tokenizer, items, reasoning, options, model=label or name, exclusions=exclusions
    )
    if not encoded:
        raise InputError(f"{name}: no item with a usable trace ({exclusions.total()} excluded)")
    inputs_hash = hash_inputs(
        FORMAT_VERSION,
        model_key if model_key is not None else uuid.uuid4().hex,
        options.model_dump(mode="json", exclude={"shard_rows"}),
        options.shard_rows,
        [(a.item.item_id, a.item.input_ids, a.offsets) for a in encoded],
    )
    out_dir = Path(out_dir)
    if is_fresh(out_dir, inputs_hash):
        return AlongActivations.open(out_dir)
    writer = AlongWriter(out_dir, inputs_hash)
    shards = plan_shards(encoded, options)
    write_shards(model, architecture, encoded, shards, writer, tokenizer.pad_token_id)
    manifest = {
        "model": name,
        "architecture": architecture.name,
        "n_layers": model.config.num_hidden_layers,
        "d_model": model.config.hidden_size,
        "n_items": len(encoded),
        "item_ids": [a.item.item_id for a in encoded],
        "options": options.model_dump(mode="json"),
        "padding_side": "left",
        "position_ids": "from attention mask",
        "resid_layout": "[rows, layers + 1, d_model]; 0 = embeddings, "
        "l = output of block l before the final norm",
        "offsets": "0 = think-open token, trace_len = last reasoning token; "
        "remaining = trace_len - offset",
        "torch": torch.__version__,
    }
    return writer.finish(len(shards), manifest)
