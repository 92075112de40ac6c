"""Along-trace capture speed against a bare forward over the same tokens, on CPU.

A random-init Qwen2 built from config as tests/tiny_models.py does (default 4 layers, d_model
128, 4 heads) reads items of a 64-token prompt plus a 2,000-token trace. Timed, interleaved and
repeated (median): the bare forward (same left-padded batches, position ids, `use_cache=False`,
`logits_to_keep=1`); the forward with the capture hooks gathering every layer at every 8th
trace token (`run_batch`); and the whole `capture_along` (encoding aside: batching, hooks,
safetensors shards, row index). Prints both ratios to the bare forward (target <= 1.3x).

Usage: python benchmarks/effort_capture.py [--items 4] [--trace 2000] [--every 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimicry.probes.architectures import validate_architecture  # noqa: E402
from mimicry.probes.capture.along import (  # noqa: E402
    AlongItem,
    AlongOptions,
    plan_shards,
    run_batch,
    trace_offsets,
    write_shards,
)
from mimicry.probes.capture.along_store import AlongWriter  # noqa: E402
from mimicry.probes.capture.inputs import EncodedItem, collate  # noqa: E402
from tests.tiny_models import tiny_config  # noqa: E402

VOCAB = 2048
PROMPT = 64


def build_model(layers: int, d_model: int):
    from transformers import AutoModelForCausalLM

    config = tiny_config("qwen2", VOCAB, n_layers=layers, d_model=d_model, n_heads=4, n_ctx=8192)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").eval()


def build_items(n: int, trace: int, every: int) -> list[AlongItem]:
    generator = torch.Generator().manual_seed(1)
    items = []
    for k in range(n):
        length = trace - 16 * k  # slightly ragged, so batches carry left padding
        ids = torch.randint(4, VOCAB, (PROMPT + 1 + length + 1,), generator=generator).tolist()
        encoded = EncodedItem(f"i{k}", tuple(ids), PROMPT, PROMPT)
        items.append(AlongItem(encoded, "t", length, trace_offsets(length, (), every)))
    return items


def bare(model, batches, items, pad_id) -> None:
    with torch.inference_mode():
        for batch in batches:
            collated = collate([items[i].item for i in batch], pad_id)
            model(
                input_ids=collated.input_ids,
                attention_mask=collated.attention_mask,
                position_ids=collated.position_ids,
                use_cache=False,
                logits_to_keep=1,
            )


def hooked(model, architecture, batches, items, pad_id) -> None:
    for batch in batches:
        run_batch(model, architecture, [items[i] for i in batch], pad_id)


def whole(model, architecture, shards, items, pad_id, out: Path) -> None:
    """capture_along's loop (shards to disk, row index) on pre-encoded items."""
    writer = AlongWriter(out / f"run-{time.perf_counter_ns()}", "bench")
    write_shards(model, architecture, items, shards, writer, pad_id)
    writer.finish(len(shards), {"n_layers": 0, "d_model": 0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=4)
    parser.add_argument("--trace", type=int, default=2000)
    parser.add_argument("--every", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = build_model(args.layers, args.d_model)
    architecture = validate_architecture(model)
    items = build_items(args.items, args.trace, args.every)
    options = AlongOptions(fractions=(), every=args.every, batch_size=args.batch)
    shards = plan_shards(items, options)
    batches = [b for shard in shards for b in shard]
    n_rows = sum(len(a.offsets) for a in items)
    times: dict[str, list[float]] = {"bare": [], "hooks": [], "capture": []}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "bare": lambda: bare(model, batches, items, 0),
            "hooks": lambda: hooked(model, architecture, batches, items, 0),
            "capture": lambda: whole(model, architecture, shards, items, 0, Path(tmp)),
        }
        for fn in runs.values():  # warm-up
            fn()
        for _ in range(args.repeats):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"qwen2 {args.layers} layers d{args.d_model}, {args.items} items x "
        f"({PROMPT} + {args.trace}) tokens, batch {args.batch}, every {args.every}th trace token: "
        f"{n_rows} rows x {args.layers + 1} layers; torch threads {torch.get_num_threads()}"
    )
    for name in ("bare", "hooks", "capture"):
        ratio = median[name] / median["bare"]
        print(f"  {name:8s} {median[name] * 1000:8.1f} ms   {ratio:5.2f}x bare")
    verdict = "meets" if median["capture"] / median["bare"] <= 1.3 else "misses"
    print(f"  capture {verdict} the <= 1.3x target")


if __name__ == "__main__":
    main()
