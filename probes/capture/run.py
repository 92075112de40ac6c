"""The capture stage: model + item table (+ traces) -> activations, entropy and manifest in RUN.

Writes `RUN/activations/NAME/<position>.safetensors` (`resid` [items, layers + 1, d_model]),
`RUN/activations/NAME/manifest.json`, `RUN/activations/NAME/exclusions.csv`,
`RUN/entropy/NAME.csv` and `RUN/items.csv`. Shards are kept in `RUN/activations/.NAME.partial`
until the end, so a killed capture resumes at the last finished shard, and a finished capture
with the same inputs is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import hash_inputs, is_fresh, model_fingerprint
from mimicry.data.items import read_items
from mimicry.probes.capture.config import CaptureConfig
from mimicry.probes.capture.loop import iter_shards, n_shards
from mimicry.probes.capture.manifest import (
    assemble,
    build_manifest,
    items_copy_needed,
    write_items_copy,
)
from mimicry.probes.capture.plan import encode, load_weights, make_engine, resolve_model
from mimicry.probes.capture.settings import (
    CaptureSettings,
    capture_config,
    check_name,
    default_name,
)
from mimicry.probes.capture.texts import select_traces
from mimicry.probes.capture.writer import ShardStore

__all__ = ["CaptureResult", "capture_run", "default_name"]


@dataclass
class CaptureResult:
    """Where a capture wrote its outputs and what it kept."""

    activations: Path
    entropy: Path | None
    n_items: int
    skipped: bool
    exclusions: Exclusions = field(default_factory=Exclusions)


def _read_reasoning(trace_paths, trace_model, items_df, tokenizer) -> dict[str, str] | None:
    """Sample-0 reasoning per item id, or None without traces."""
    if not trace_paths:
        return None
    from mimicry.data.traces import read_traces

    def count(texts):
        return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    frame, _ = read_traces(trace_paths, item_ids=items_df["item_id"].tolist(), count_tokens=count)
    return select_traces(frame, trace_model, trace_paths[0])


def capture_run(
    model: str | Path,
    items: str | Path,
    out_run: str | Path,
    name: str | None = None,
    *,
    config: CaptureConfig | None = None,
    traces: str | Path | Sequence[str | Path] | None = None,
    on_shard: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    **options,
) -> CaptureResult:
    """Capture one model into the run folder `out_run`, resumably, shard by shard.

    The same loop as the in-memory `capture`: `config` and keyword overrides of its fields as
    there, and the model's loading and prompting in `options` (dtype, device, trust_remote_code,
    revision, template, think_tags, remote, trace_model); here each finished shard goes to disk
    at once, so memory stays flat and a killed run resumes.

    Args:
        model: local HF folder or hub name (safetensors weights).
        items: item table (CSV/JSONL, `data.items` format).
        out_run: run directory.
        name: output name under `activations/` and `entropy/` (default from the model).
        traces: trace JSONL file(s); sample 0 of each item is read after its prompt.
        on_shard: called as `on_shard(finished_shard_index, n_shards)` after each new shard.
        on_batch: called with the number of items in each finished batch.
    """
    run = Path(out_run)
    items_path = Path(items)
    name = check_name(name or default_name(model))
    trace_paths = (
        None if traces is None else ([traces] if isinstance(traces, str | Path) else list(traces))
    )
    overrides = {k: options.pop(k) for k in list(options) if k in CaptureConfig.model_fields}
    stage = capture_config(config, overrides)
    settings = CaptureSettings.build(stage, bool(trace_paths), **options)
    handle = resolve_model(model, None, settings)
    items_df = read_items(items_path)
    reasoning = _read_reasoning(trace_paths, settings.trace_model, items_df, handle.tokenizer)
    encoded, exclusions, batch_used = encode(
        handle, items_df, reasoning, settings, name, source=items_path
    )
    inputs_hash = hash_inputs(
        model_fingerprint(model, revision=settings.revision),
        items_path,
        *(trace_paths or []),
        settings.hashed(),
        [(e.item_id, e.input_ids, e.prompt_len, e.think_open) for e in encoded],
    )
    activations_dir = run / "activations" / name
    entropy_path = run / "entropy" / f"{name}.csv" if settings.resolved_method else None
    copy_items = items_copy_needed(items_df, run, items_path)
    if is_fresh(activations_dir, inputs_hash) and (entropy_path is None or entropy_path.is_file()):
        if copy_items:
            write_items_copy(items_df, run)
        return CaptureResult(activations_dir, entropy_path, len(encoded), True, exclusions)

    load_weights(handle, settings)
    engine = make_engine(handle, settings)
    store = ShardStore(run / "activations" / f".{name}.partial", inputs_hash)
    total = n_shards(len(encoded), settings.shard_size)
    for index, shard, tensors in iter_shards(
        engine,
        encoded,
        settings.positions,
        pad_id=handle.pad_id,
        device=settings.input_device,
        batch_size=batch_used,
        shard_size=settings.shard_size,
        done=store.done,
        on_batch=on_batch,
    ):
        store.write(index, tensors, [e.item_id for e in shard])
        if on_shard is not None:
            on_shard(index, total)
    manifest = build_manifest(
        name=name,
        handle=handle,
        item_ids=[e.item_id for e in encoded],
        settings=settings,
        inputs_hash=inputs_hash,
        n_excluded=exclusions.total(),
        batch_used=batch_used,
        traces=trace_paths or (),
    )
    assemble(store, total, manifest, activations_dir, entropy_path, exclusions)
    store.remove()
    if copy_items:
        write_items_copy(items_df, run)
    return CaptureResult(activations_dir, entropy_path, len(encoded), False, exclusions)
