"""Capture speed and memory against a bare SDPA forward, on CPU.

A Qwen2-shaped random-init model (6 layers, d_model 256, 4 heads of 64, 2 KV heads) reads a
left-padded batch of 16 x 512 tokens (lengths 448-512, 128-token prompts). Prints the median of
several repeats of: the bare forward (SDPA), mimicry capture of every layer at all four
positions without and with attention entropy (fused and chunked), the eager forward with
`output_attentions`, TransformerLens `run_with_cache` with a names filter and an nnsight trace
saving every layer's full output. Then, in fresh subprocesses, the peak RSS growth of one forward
at 2,048 tokens: bare, capture with chunked / fused entropy, and the eager reference.

Usage: python benchmarks/capture.py [--repeats 5] [--batch 16] [--tokens 512] [--memory-tokens 2048]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimicry.probes.architectures import validate_architecture  # noqa: E402
from mimicry.probes.capture.backends import make_backend  # noqa: E402
from mimicry.probes.capture.inputs import EncodedItem, collate  # noqa: E402
from mimicry.probes.capture.positions import POSITIONS, position_weights  # noqa: E402
from mimicry.probes.loading import load_tokenizer  # noqa: E402

VOCAB = 2048


def build_model(attn: str = "sdpa"):
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(
        vocab_size=VOCAB,
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, attn_implementation=attn).eval()


def build_batch(batch: int, tokens: int):
    generator = torch.Generator().manual_seed(1)
    items = []
    for k in range(batch):
        n = tokens - (k * (tokens // 8) // max(1, batch - 1))
        ids = torch.randint(4, VOCAB, (n,), generator=generator).tolist()
        items.append(EncodedItem(f"i{k}", tuple(ids), min(128, n - 1), min(128, n - 1)))
    return collate(items, pad_id=0)


def word_tokenizer():
    from mimicry.distill.word_tokenizer import build_word_tokenizer

    return build_word_tokenizer(["a b c"])


def backend(model, method):
    return make_backend(
        "nnsight",
        model=model,
        tokenizer=word_tokenizer(),
        architecture=validate_architecture(model),
        entropy_method=method,
    )


def interleaved_medians(runners: dict, repeats: int) -> dict[str, float]:
    """Median seconds per runner, timed round-robin so load drift on a shared machine hits all."""
    for fn in runners.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def speed(args) -> None:
    batch = build_batch(args.batch, args.tokens)
    weights = position_weights(batch, POSITIONS, torch.float32)
    model = build_model()
    eager_model = build_model("eager")
    inputs = dict(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
    )

    def forward(target, **extra):
        def run():
            with torch.inference_mode():
                target(**inputs, **extra)

        return run

    plain = backend(build_model(), None)
    fused = backend(build_model(), "fused")
    chunked = backend(build_model(), "chunked")
    runners = {
        "bare forward (SDPA)": forward(model),
        # Capture needs no logits and asks for the last position's only: the fair baseline.
        "bare forward (SDPA), logits_to_keep=1": forward(model, logits_to_keep=1),
        "capture, all layers x 4 positions": lambda: plain.run(batch, weights),
        "capture + entropy (fused)": lambda: fused.run(batch, weights),
        "capture + entropy (chunked)": lambda: chunked.run(batch, weights),
        "eager forward + output_attentions": forward(eager_model, output_attentions=True),
        "TransformerLens run_with_cache(names_filter)": tl_runner(batch),
        "nnsight trace saving full layer outputs": nnsight_runner(batch, inputs),
    }
    results = interleaved_medians(runners, args.repeats)
    base = results["bare forward (SDPA)"]
    fair_base = results["bare forward (SDPA), logits_to_keep=1"]
    print(
        f"batch {args.batch} x {args.tokens} tokens, median of {args.repeats} interleaved repeats, "
        f"torch threads {torch.get_num_threads()}"
    )
    for name, seconds in results.items():
        print(
            f"{name:48s} {seconds * 1000:9.1f} ms  {seconds / base:5.2f}x bare  "
            f"{seconds / fair_base:5.2f}x bare(last logits)"
        )


def tl_runner(batch):
    import tempfile

    from transformer_lens.model_bridge import TransformerBridge

    folder = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    model = build_model()
    model.save_pretrained(folder)
    word_tokenizer().save_pretrained(folder)
    bridge = TransformerBridge.boot_transformers(
        str(folder), tokenizer=load_tokenizer(folder), device="cpu"
    )
    names = {"blocks.0.hook_resid_pre"} | {f"blocks.{i}.hook_resid_post" for i in range(6)}

    def run():
        with torch.inference_mode():
            bridge.run_with_cache(batch.input_ids, names_filter=lambda n: n in names)

    return run


def nnsight_runner(batch, inputs):
    import nnsight

    lm = nnsight.TransformersModel(build_model(), tokenizer=word_tokenizer())

    def run():
        with torch.inference_mode(), lm.trace(**inputs):
            saved = nnsight.save([layer.output for layer in lm.model.layers])
        return saved

    return run


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def memory_child(method: str, batch_size: int, tokens: int) -> None:
    batch = build_batch(batch_size, tokens)
    weights = position_weights(batch, POSITIONS, torch.float32)
    model = build_model()
    runner = None if method == "bare" else backend(model, None if method == "none" else method)
    before = _status_mb("VmRSS")
    _reset_peak()
    with torch.inference_mode():
        if runner is None:
            model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                position_ids=batch.position_ids,
            )
        else:
            runner.run(batch, weights)
    peak = _status_mb("VmHWM")
    print(json.dumps({"method": method, "peak_growth_mb": peak - before}))


def memory(args) -> None:
    print(
        f"peak RSS growth of one forward, batch {args.memory_batch} x {args.memory_tokens} tokens (fresh process each)"
    )
    for method in ("bare", "none", "chunked", "fused", "eager"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                method,
                "--memory-batch",
                str(args.memory_batch),
                "--memory-tokens",
                str(args.memory_tokens),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        label = {
            "bare": "bare forward (SDPA)",
            "none": "capture, no entropy",
            "chunked": "capture + entropy (chunked)",
            "fused": "capture + entropy (fused)",
            "eager": "capture + entropy (eager reference)",
        }[method]
        print(f"{label:48s} {row['peak_growth_mb']:9.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--memory-batch", type=int, default=2)
    parser.add_argument("--memory-tokens", type=int, default=2048)
    parser.add_argument("--memory-child", default=None)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.memory_batch, args.memory_tokens)
        return
    if not args.skip_speed:
        speed(args)
    if not args.skip_memory:
        memory(args)


if __name__ == "__main__":
    main()
