"""`capture(model, items) -> Capture`: activations and attention entropy in memory.

The object a notebook works with. It runs the same loop as the run-folder stage
(`capture_run`), keeps every shard in memory, and writes to disk only when asked
(`Capture.save`, which produces exactly the stage's run-folder layout through its shard store).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import hash_inputs, model_fingerprint
from mimicry.probes.capture.config import CaptureConfig
from mimicry.probes.capture.inputs import THINK_CLOSE, THINK_OPEN
from mimicry.probes.capture.loop import iter_shards, n_shards
from mimicry.probes.capture.manifest import (
    assemble,
    build_manifest,
    items_copy_needed,
    write_items_copy,
)
from mimicry.probes.capture.plan import (
    borrowed,
    encode,
    is_loaded_model,
    load_weights,
    make_engine,
    resolve_model,
)
from mimicry.probes.capture.results import ENTROPY_COLUMNS, entropy_rows, resid_key
from mimicry.probes.capture.settings import (
    CaptureSettings,
    capture_config,
    check_name,
    default_name,
)
from mimicry.probes.capture.texts import select_traces
from mimicry.probes.capture.writer import ShardStore
from mimicry.probes.prompting import PromptConvention

Resid = Float[Tensor, "items layers_plus_1 d_model"]


@dataclass(repr=False)
class Capture:
    """What one capture read from one model, rows in `item_ids` order.

    Attributes:
        activations: position -> residual stream [items, layers + 1, d_model] (float32; index 0
            the embeddings, index l the output of block l before the final norm).
        item_ids: the captured items (excluded ones are counted in `exclusions`).
        exclusions: every item left out, by reason.
        manifest: model, sizes and options, as `manifest.json` records them.
        has_trace: whether each item was read with a reasoning trace.
        attention_entropy, attention_entropy_norm: [items, layers, heads, regions] (regions
            prompt, trace), or None without entropy; `entropy` is the same as a table.
        items: the item table the capture read (written as RUN/items.csv by `save`).
    """

    activations: dict[str, Resid]
    item_ids: list[str]
    exclusions: Exclusions
    manifest: dict
    has_trace: Bool[Tensor, " items"]
    attention_entropy: Float[Tensor, "items layers heads regions"] | None = None
    attention_entropy_norm: Float[Tensor, "items layers heads regions"] | None = None
    items: pd.DataFrame | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shape = tuple(next(iter(self.activations.values())).shape)
        entropy = "none" if self.attention_entropy is None else f"{len(self.entropy)} rows"
        return (
            f"Capture(model={self.name!r}, positions={self.positions}, resid={shape}, "
            f"entropy={entropy}, excluded={self.exclusions.total()})"
        )

    @property
    def positions(self) -> list[str]:
        return list(self.activations)

    @property
    def name(self) -> str:
        return self.manifest["model"]

    def __getitem__(self, position: str) -> Resid:
        return self.activations[position]

    @cached_property
    def entropy(self) -> pd.DataFrame | None:
        """item_id, layer (1-based), head, region, entropy (nats), entropy_norm (/ log keys)."""
        if self.attention_entropy is None:
            return None
        rows = entropy_rows(
            self.attention_entropy,
            self.attention_entropy_norm,
            self.item_ids,
            self.has_trace.tolist(),
        )
        return pd.DataFrame(list(rows), columns=list(ENTROPY_COLUMNS))

    def save(self, run_dir: str | Path, name: str | None = None) -> Path:
        """Write the run-folder layout the capture stage writes: `activations/NAME/` (one
        safetensors file per position, manifest.json, exclusions.csv), `entropy/NAME.csv` and
        `items.csv`. Returns the activations folder."""
        run = Path(run_dir)
        name = check_name(name or self.name)
        manifest = {**self.manifest, "model": name}
        size = int(manifest["shard_size"])
        total = n_shards(len(self.item_ids), size)
        store = ShardStore(run / "activations" / f".{name}.partial", manifest["inputs_hash"])
        for index in range(total):
            rows = slice(index * size, (index + 1) * size)
            store.write(index, self._shard(rows), self.item_ids[rows])
        activations_dir = run / "activations" / name
        entropy_path = None if self.attention_entropy is None else run / "entropy" / f"{name}.csv"
        if self.items is not None and items_copy_needed(self.items, run):
            write_items_copy(self.items, run)
        assemble(store, total, manifest, activations_dir, entropy_path, self.exclusions)
        store.remove()
        return activations_dir

    def _shard(self, rows: slice) -> dict[str, Tensor]:
        tensors = {resid_key(p): t[rows] for p, t in self.activations.items()}
        tensors["has_trace"] = self.has_trace[rows]
        if self.attention_entropy is not None:
            tensors["entropy"] = self.attention_entropy[rows]
            tensors["entropy_norm"] = self.attention_entropy_norm[rows]
        return tensors


def capture(
    model: Any,
    items: pd.DataFrame | str | Path,
    *,
    config: CaptureConfig | None = None,
    tokenizer: Any = None,
    traces: pd.DataFrame | str | Path | Sequence[str | Path] | None = None,
    trace_model: str | None = None,
    name: str | None = None,
    dtype: str = "float32",
    device: str | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    template: str | dict | PromptConvention = "raw",
    think_tags: tuple[str, str] = (THINK_OPEN, THINK_CLOSE),
    remote: str = "no",
    on_batch: Callable[[int], None] | None = None,
    **overrides,
) -> Capture:
    """Capture residual-stream activations and attention entropy of one model, in memory.

    Args:
        model: a loaded Hugging Face causal LM (pass its `tokenizer`), or a local folder or hub
            name (safetensors weights; its tokenizer is loaded with it).
        items: the item table as a DataFrame (`item_id`, `task`, `prompt`, `answer`, ...), or
            a CSV/JSONL path; validated as `data.items` validates files.
        config: the stage's options (`CaptureConfig`, default `CaptureConfig()`: positions,
            backend, batch_size, shard_size, entropy, entropy_method, max_tokens); keyword
            overrides of its fields (positions="last_prompt", batch_size=2, ...) are validated
            on top, one line naming the field. `positions` may also be comma-separated text.
        tokenizer: the loaded model's tokenizer (for a path: loaded from the folder).
        traces: a traces DataFrame (`item_id`, `model`, `sample`, `reasoning`) or trace JSONL
            file(s); the text becomes prompt + `<think> reasoning </think>` (sample 0 of each
            item); items without a trace are excluded and counted.
        trace_model: which model's traces to read when they hold several.
        name: the model's name in the manifest and the run folder (default from the model).
        dtype, trust_remote_code, revision: how to load a model given by path.
        device: where batches run (default: the loaded model's device, else cpu).
        template: the model's prompt convention (as generation used it), or `raw` text / the
            tokenizer's `chat` template around the prompt (legacy names).
        think_tags: the markers that open and close reasoning in this model family.
        remote: "no"; "local" (through nnsight's remote serialisation, run here); "ndif" (on
            NDIF, needs NDIF_API_KEY; residuals only, entropy is switched off).
        on_batch: called with the number of items in each finished batch.

    A loaded model is given back as it came (training flag, attention implementation).
    """
    options = capture_config(config, overrides)
    loaded = is_loaded_model(model)
    if device is None:
        device = str(next(model.parameters()).device) if loaded else "cpu"
    if loaded:
        dtype = str(model.dtype).removeprefix("torch.")
    items_df = _items_frame(items)
    settings = CaptureSettings.build(
        options,
        traces is not None,
        dtype=dtype,
        device=device,
        trust_remote_code=trust_remote_code,
        revision=revision,
        template=template,
        think_tags=think_tags,
        remote=remote,
        trace_model=trace_model,
    )
    handle = resolve_model(model, tokenizer, settings)
    name = check_name(name or default_name(handle.path or handle.source.rstrip("/").split("/")[-1]))
    reasoning = _reasoning(traces, trace_model, items_df, handle.tokenizer)
    encoded, exclusions, batch_used = encode(handle, items_df, reasoning, settings, name)
    inputs_hash = hash_inputs(
        model_fingerprint(handle.path, revision=revision) if handle.path else handle.source,
        settings.hashed(),
        [(e.item_id, e.input_ids, e.prompt_len, e.think_open) for e in encoded],
    )
    load_weights(handle, settings)
    shards = []
    with borrowed(handle.model) if loaded else contextlib.nullcontext():
        engine = make_engine(handle, settings)
        for _, _, tensors in iter_shards(
            engine,
            encoded,
            settings.positions,
            pad_id=handle.pad_id,
            device=settings.input_device,
            batch_size=batch_used,
            shard_size=settings.shard_size,
            on_batch=on_batch,
        ):
            shards.append(tensors)

    def joined(key: str) -> Tensor:
        return torch.cat([s[key] for s in shards])

    item_ids = [e.item_id for e in encoded]
    manifest = build_manifest(
        name=name,
        handle=handle,
        item_ids=item_ids,
        settings=settings,
        inputs_hash=inputs_hash,
        n_excluded=exclusions.total(),
        batch_used=batch_used,
        traces=_trace_labels(traces),
    )
    with_entropy = "entropy" in shards[0]
    return Capture(
        activations={p: joined(resid_key(p)) for p in settings.positions},
        item_ids=item_ids,
        exclusions=exclusions,
        manifest=manifest,
        has_trace=joined("has_trace"),
        attention_entropy=joined("entropy") if with_entropy else None,
        attention_entropy_norm=joined("entropy_norm") if with_entropy else None,
        items=items_df,
    )


def _items_frame(items) -> pd.DataFrame:
    from mimicry.data.items import read_items, validate_items

    if isinstance(items, pd.DataFrame):
        return validate_items(items)
    return read_items(items)


def _reasoning(traces, trace_model, items_df, tokenizer) -> dict[str, str] | None:
    """Sample-0 reasoning per item from a traces frame or trace files (None without traces)."""
    if traces is None:
        return None
    if isinstance(traces, pd.DataFrame):
        known = traces[traces["item_id"].astype(str).isin(items_df["item_id"])]
        return select_traces(
            known.assign(item_id=known["item_id"].astype(str)), trace_model, "<traces>"
        )
    from mimicry.probes.capture.run import _read_reasoning

    paths = [traces] if isinstance(traces, str | Path) else list(traces)
    return _read_reasoning(paths, trace_model, items_df, tokenizer)


def _trace_labels(traces) -> list[str]:
    if traces is None:
        return []
    if isinstance(traces, pd.DataFrame):
        return ["<DataFrame>"]
    return [str(p) for p in ([traces] if isinstance(traces, str | Path) else traces)]
