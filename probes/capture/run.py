"""The capture stage: model + item table (+ traces) -> activations, entropy and manifest in RUN.

Writes `RUN/activations/NAME/<position>.safetensors` (`resid` [items, layers + 1, d_model]),
`RUN/activations/NAME/manifest.json`, `RUN/activations/NAME/exclusions.csv`,
`RUN/entropy/NAME.csv` and `RUN/items.csv`. Shards are kept in `RUN/activations/.NAME.partial`
until the end, so a killed capture resumes at the last finished shard, and a finished capture
with the same inputs is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import (
    atomic_dir,
    hash_inputs,
    is_fresh,
    model_fingerprint,
    write_json,
    write_stamp,
)
from mimicry.probes.architectures import architecture_for_config, validate_architecture
from mimicry.probes.capture.backends import BACKENDS, make_backend
from mimicry.probes.capture.entropy import ENTROPY_METHODS, fused_available
from mimicry.probes.capture.inputs import REGIONS, THINK_CLOSE, THINK_OPEN, collate, plan_batches
from mimicry.probes.capture.positions import TRACE_POSITIONS, parse_positions, position_weights
from mimicry.probes.capture.results import resid_key, write_entropy_csv, write_positions
from mimicry.probes.capture.texts import STAGE, encode_items, select_traces
from mimicry.probes.capture.writer import ShardStore
from mimicry.probes.prompting import PromptConvention

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class CaptureResult:
    """Where a capture wrote its outputs and what it kept."""

    activations: Path
    entropy: Path | None
    n_items: int
    skipped: bool
    exclusions: Exclusions = field(default_factory=Exclusions)


def default_name(model: str | Path) -> str:
    """A file-safe run name from a model folder or hub name (`org/model` -> `org--model`)."""
    text = str(model).rstrip("/")
    name = Path(text).name if Path(text).exists() else text.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _check_options(backend, batch_size, shard_size, entropy_method, positions, traces, template):
    if backend not in BACKENDS:
        raise InputError(
            f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}", field="backend"
        )
    if batch_size < 0 or shard_size < 1:
        raise InputError(
            "batch size must be 0 (auto) or more, shard size at least 1", field="batch_size"
        )
    if entropy_method not in ENTROPY_METHODS:
        raise InputError(
            f"unknown entropy method {entropy_method!r}; choose from {', '.join(ENTROPY_METHODS)}",
            field="entropy_method",
        )
    needs_trace = [p for p in positions if p in TRACE_POSITIONS]
    if traces is None and needs_trace and (template == "raw" or "mean_trace" in needs_trace):
        raise InputError(
            f"position(s) {', '.join(needs_trace)} need reasoning text; pass --traces",
            field="positions",
        )


REMOTE_MODES = ("no", "local", "ndif")


def _check_remote(remote: str, backend: str) -> None:
    """Remote execution goes through nnsight only, and NDIF needs an API key."""
    import os

    if remote not in REMOTE_MODES:
        raise InputError(
            f"unknown remote mode {remote!r}; choose from {', '.join(REMOTE_MODES)}", field="remote"
        )
    if remote != "no" and backend != "nnsight":
        raise InputError("remote execution needs the nnsight backend", field="backend")
    if remote == "ndif":
        from nnsight import CONFIG

        if not (os.environ.get("NDIF_API_KEY") or getattr(CONFIG.API, "APIKEY", None)):
            raise InputError(
                "NDIF needs an API key: set NDIF_API_KEY (from login.ndif.us)", field="remote"
            )


def input_device(device: str) -> str:
    """Where batches go: `auto` spreads the layers over the GPUs (accelerate moves activations
    between them) and takes its inputs on the first one, or stays on the CPU without a GPU."""
    if device != "auto":
        return device
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def _resolve_entropy_method(method: str, device: str, backend: str) -> str:
    if backend == "transformer_lens":
        return "eager"
    if method == "auto":
        return "fused" if fused_available(device) else "chunked"
    if method == "fused" and not fused_available(device):
        raise InputError(
            f"the fused entropy method needs a CPU device, not {device!r}", field="entropy_method"
        )
    return method


def _read_items(items_path: Path):
    from mimicry.data.items import read_items

    return read_items(items_path)


def _items_copy_needed(items_df, items_path: Path, run: Path) -> bool:
    """Whether RUN/items.csv must be written; an existing, different table is an error."""
    from mimicry.data.items import read_items

    target = run / "items.csv"
    if not target.exists():
        return True
    if target.resolve() != items_path.resolve():
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


def _write_items_copy(items_df, run: Path) -> None:
    """Keep the item table in RUN so later stages need only RUN."""
    from mimicry.data.items import write_items

    write_items(items_df, run / "items.csv")


def _read_reasoning(trace_paths, trace_model, items_df, tokenizer) -> dict[str, str] | None:
    """Sample-0 reasoning per item id, or None without traces."""
    if not trace_paths:
        return None
    from mimicry.data.traces import read_traces

    def count(texts):
        return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    frame, _ = read_traces(trace_paths, item_ids=items_df["item_id"].tolist(), count_tokens=count)
    return select_traces(frame, trace_model, trace_paths[0])


def capture(
    model: str | Path,
    items: str | Path,
    out_run: str | Path,
    name: str | None = None,
    *,
    traces: str | Path | Sequence[str | Path] | None = None,
    trace_model: str | None = None,
    positions: str | Sequence[str] | None = None,
    backend: str = "nnsight",
    batch_size: int = 8,
    dtype: str = "float32",
    device: str = "cpu",
    trust_remote_code: bool = False,
    revision: str | None = None,
    shard_size: int = 256,
    entropy: bool = True,
    entropy_method: str = "auto",
    template: str | dict | PromptConvention = "raw",
    think_tags: tuple[str, str] = (THINK_OPEN, THINK_CLOSE),
    max_tokens: int | None = None,
    remote: str = "no",
    on_shard: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> CaptureResult:
    """Capture residual-stream activations and attention entropy for one model.

    Args:
        model: local HF folder or hub name (safetensors weights).
        items: item table (CSV/JSONL, `data.items` format).
        out_run: run directory.
        name: output name under `activations/` and `entropy/` (default from the model).
        traces: trace JSONL file(s); the text becomes prompt + `<think> reasoning </think>`
            (sample 0 of each item); items without a trace are excluded and counted.
        trace_model: which model's traces to read when the files hold several.
        positions: subset of last_prompt, mean_prompt, mean_trace, think_open (default: all four
            with traces, the two prompt positions without).
        backend: `nnsight` (batched, left padding) or `transformer_lens` (one item at a time).
        batch_size: items per forward pass; 0 chooses it from free memory (GPU or RAM) and the
            longest item.
        dtype, device, trust_remote_code, revision: how to load the model.
        shard_size: items per resumable shard.
        entropy: also write attention entropy per layer, head and region.
        entropy_method: auto (fused on CPU, else chunked), chunked, fused, or eager (reference).
        template: the model's prompt convention (as generation used it), or `raw` text / the
            tokenizer's `chat` template around the prompt (legacy names).
        think_tags: the markers that open and close reasoning in this model family.
        max_tokens: longer items are excluded (default: the model's context length).
        remote: "no"; "local" (every trace goes through nnsight's remote serialisation and runs
            here: the dry run of NDIF); "ndif" (runs on NDIF through nnsight, weights never load
            here; needs NDIF_API_KEY). Remote runs capture residuals only: attention entropy needs
            the attention function registered in this process, so it is switched off and recorded.
        on_shard: called as `on_shard(finished_shard_index, n_shards)` after each new shard.
        on_batch: called with the number of items in each finished batch.
    """
    from transformers import AutoConfig

    from mimicry.probes.loading import load_causal_lm, load_tokenizer

    run = Path(out_run)
    items_path = Path(items)
    name = name or default_name(model)
    if not _NAME.match(name):
        raise InputError(f"name {name!r} must be letters, digits, '.', '_' or '-'", field="name")
    trace_paths = (
        None if traces is None else ([traces] if isinstance(traces, str | Path) else list(traces))
    )
    positions = parse_positions(
        positions
        or (
            ("last_prompt", "mean_prompt", "mean_trace", "think_open")
            if trace_paths
            else ("last_prompt", "mean_prompt")
        )
    )
    _check_options(
        backend, batch_size, shard_size, entropy_method, positions, trace_paths, template
    )
    try:
        config = AutoConfig.from_pretrained(
            str(model), trust_remote_code=trust_remote_code, revision=revision
        )
    except (OSError, ValueError) as error:
        raise InputError(
            f"cannot read the model config: {' '.join(str(error).split())[:300]}", file=str(model)
        ) from error
    architecture = architecture_for_config(config, source=str(model))
    _check_remote(remote, backend)
    entropy = entropy and remote == "no"
    method = (
        _resolve_entropy_method(entropy_method, input_device(device), backend) if entropy else None
    )

    items_df = _read_items(items_path)
    tokenizer = load_tokenizer(model, trust_remote_code=trust_remote_code, revision=revision)
    convention = None  # the model's prompt convention, resolved as generation resolves it
    if not isinstance(template, str):
        convention = PromptConvention.from_value(template).resolved(tokenizer)
        think_tags = (convention.think_open, convention.think_close)
    exclusions = Exclusions()
    reasoning = _read_reasoning(trace_paths, trace_model, items_df, tokenizer)
    context = getattr(config, "max_position_embeddings", None) or getattr(
        config, "n_positions", None
    )
    encoded = encode_items(
        tokenizer,
        items_df,
        reasoning,
        positions=positions,
        template=convention or template,
        think_tags=tuple(think_tags),
        max_tokens=max_tokens or context,
        model_name=name,
        exclusions=exclusions,
    )
    if not encoded:
        raise InputError(
            f"no item left to capture ({exclusions.total()} excluded)", file=items_path
        )

    batch_used = batch_size
    if batch_size == 0:  # chosen from free memory; the hash keeps 0 so a resume still matches
        from mimicry.probes.loading import resolve_dtype
        from mimicry.probes.memory import auto_batch_size

        batch_used = auto_batch_size(
            n_tokens=max(len(e.input_ids) for e in encoded),
            d_model=config.hidden_size,
            n_layers=config.num_hidden_layers,
            dtype=resolve_dtype(dtype),
            device=input_device(device),
        )
    options = {
        "format": FORMAT_VERSION,
        "positions": positions,
        "backend": backend,
        "batch_size": batch_size,
        "dtype": dtype,
        "device": device,
        "revision": revision,
        "entropy_method": method,
        "template": template
        if convention is None
        else {"plain": "raw"}.get(convention.style, "chat"),
        "prompt_convention": None if convention is None else convention.as_dict(),
        "think_tags": list(think_tags),
        "shard_size": shard_size,
        "trace_model": trace_model,
        "remote": remote,
    }
    inputs_hash = hash_inputs(
        model_fingerprint(model, revision=revision),
        items_path,
        *(trace_paths or []),
        options,
        [(e.item_id, e.input_ids, e.prompt_len, e.think_open) for e in encoded],
    )
    activations_dir = run / "activations" / name
    entropy_path = run / "entropy" / f"{name}.csv" if method else None
    copy_items = _items_copy_needed(items_df, items_path, run)
    if is_fresh(activations_dir, inputs_hash) and (entropy_path is None or entropy_path.is_file()):
        if copy_items:
            _write_items_copy(items_df, run)
        return CaptureResult(activations_dir, entropy_path, len(encoded), True, exclusions)

    hf_model = None
    if remote != "ndif":
        hf_model = load_causal_lm(
            model,
            dtype=dtype,
            device=device,
            trust_remote_code=trust_remote_code,
            revision=revision,
            attn_implementation="sdpa",
        )
        validate_architecture(hf_model, source=str(model))
    extra = {"remote": remote, "source": str(model)} if backend == "nnsight" else {}
    engine = make_backend(
        backend,
        model=hf_model,
        tokenizer=tokenizer,
        architecture=architecture,
        entropy_method=method,
        **(
            {"model_path": str(model), "device": device} if backend == "transformer_lens" else extra
        ),
    )
    store = ShardStore(run / "activations" / f".{name}.partial", inputs_hash)
    n_shards = (len(encoded) + shard_size - 1) // shard_size
    for index in range(n_shards):
        if store.done(index):
            continue
        shard = encoded[index * shard_size : (index + 1) * shard_size]
        tensors = _capture_shard(
            engine,
            shard,
            positions,
            tokenizer.pad_token_id,
            input_device(device),
            batch_used,
            on_batch,
        )
        store.write(index, tensors, [e.item_id for e in shard])
        if on_shard is not None:
            on_shard(index, n_shards)

    manifest = {
        "model": name,
        "source": str(model),
        "architecture": architecture.name,
        "item_ids": [e.item_id for e in encoded],
        "n_items": len(encoded),
        "n_layers": config.num_hidden_layers,
        "d_model": config.hidden_size,
        "n_heads": config.num_attention_heads,
        "positions": list(positions),
        "n_excluded": exclusions.total(),
        "inputs_hash": inputs_hash,
        "traces": [str(p) for p in trace_paths or []],
        **{key: value for key, value in options.items() if key != "format"},
        "batch_size": batch_used,
        "batch_size_requested": batch_size,
        **_FIXED_MANIFEST,
        "torch": torch.__version__,
        "trace_sample": 0 if trace_paths else None,
    }
    _assemble(store, n_shards, manifest, activations_dir, entropy_path, exclusions)
    store.remove()
    if copy_items:
        _write_items_copy(items_df, run)
    return CaptureResult(activations_dir, entropy_path, len(encoded), False, exclusions)


_FIXED_MANIFEST = {
    "format": FORMAT_VERSION,
    "padding_side": "left",
    "position_ids": "from attention mask",
    "resid_layout": "[items, layers + 1, d_model]; 0 = embeddings, "
    "l = output of block l before the final norm",
    "entropy_layer": "1-based block index, as resid",
    "entropy_regions": list(REGIONS),
}


def _assemble(store, n_shards, manifest, activations_dir, entropy_path, exclusions) -> None:
    """Entropy CSV first, then the activations folder (with its stamp) renamed into place."""
    if entropy_path is not None:
        write_entropy_csv(entropy_path, store, n_shards)
    shape = (manifest["n_items"], manifest["n_layers"] + 1, manifest["d_model"])
    with atomic_dir(activations_dir) as tmp:
        write_positions(store, tmp, manifest["positions"], n_shards, shape)
        write_json(tmp / "manifest.json", manifest)
        exclusions.write_csv(tmp / "exclusions.csv")
        write_stamp(tmp, manifest["inputs_hash"], stage=STAGE)


def _capture_shard(
    engine, shard, positions, pad_id, device, batch_size, on_batch
) -> dict[str, torch.Tensor]:
    """Run one shard batch by batch (similar lengths together), rows back in shard order."""
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
