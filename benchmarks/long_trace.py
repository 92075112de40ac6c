"""Long traces on SmolLM2-135M-Instruct: capture with attention entropy vs a bare SDPA forward.

For each length (default 2,048, 4,096 and 8,192 tokens) one input of exactly that many tokens: a
built-in relational item's prompt, `<think>`, then a long reasoning text (the premises and
questions of the built-in human-normed items written out as numbered steps, deterministic),
encoded by `mimicry.probes.capture.inputs.encode_item` with the model's own tokenizer and cut to
N tokens. Every case runs in a fresh subprocess (so peaks do not mix): load the model, warm up at
256 tokens, reset the peak RSS (VmHWM, via /proc/self/clear_refs), time one forward at N tokens:

- `bare`: `model(input_ids)` with attn_implementation="sdpa", no hooks (full logits);
- `bare_last`: the same with `logits_to_keep=1` (capture asks for the last logits only);
- `capture`: the suite's capture path (nnsight backend, every layer at the four positions, the
  entropy method the capture stage picks by default on CPU: `fused`).

Reported: wall seconds, process CPU seconds, the ratio capture / bare, and peak RSS growth over the
loaded model. At 2,048 tokens the script also checks the fused entropy of blocks 1-2 against the
eager-attention reference (a 2-block copy of the model, `entropy_method="eager"`, same input):
max abs difference must be <= 1e-4, else exit 1.

SmolLM2 is found as the converted HF folder in ~/.cache/mimicry/smollm2-*/hf (converted from the
cached .gguf with `mimicry.probes.gguf_import.import_gguf` if only that is there), as the test
fixture `smollm2` does.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/long_trace.py [--lengths 2048,4096,8192] \
        [--model DIR] [--json long_trace.json] [--skip-check]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

CASES = ("bare", "bare_last", "capture")
WARMUP_TOKENS = 256
TOLERANCE = 1e-4


def find_smollm2() -> Path:
    """The converted SmolLM2 folder in the mimicry cache (converting the cached .gguf once)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mimicry"
    for folder in sorted(cache.glob("smollm2-*/hf")):
        if (folder / "model.safetensors").is_file():
            return folder
    for gguf in sorted(cache.glob("smollm2-*/*.gguf")):
        from mimicry.probes.gguf_import import import_gguf

        return import_gguf(gguf, gguf.parent / "hf")
    sys.exit(f"no SmolLM2 in {cache} (run the real_model tests once, or pass --model)")


def reasoning_text() -> str:
    """Numbered steps restating every built-in human-normed item, in two rounds (about 12k tokens;
    the first round alone, about 6k tokens, is the prefix the shorter inputs read)."""
    from mimicry.data.tasks import load_task

    steps = []
    for _round in range(2):
        for task in ("relational_3ps", "relational_4ps", "cardinal_directions", "syllogisms"):
            for row in load_task(task).itertuples():
                steps.append(f"Step {len(steps) + 1}: {' '.join(str(row.prompt).split())}")
    return " ".join(steps)


def encoded(tokenizer, n_tokens: int):
    """One EncodedItem of exactly n_tokens: prompt, <think>, reasoning (cut)."""
    from mimicry.data.tasks import load_task
    from mimicry.probes.capture.inputs import EncodedItem, encode_item

    prompt = str(load_task("relational_4ps")["prompt"].iloc[0])
    full = encode_item(tokenizer, f"long{n_tokens}", prompt, reasoning_text())
    if len(full.input_ids) < n_tokens:
        sys.exit(f"reasoning text too short: {len(full.input_ids)} < {n_tokens} tokens")
    return EncodedItem(full.item_id, full.input_ids[:n_tokens], full.prompt_len, full.think_open)


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


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def runner(case: str, model_dir: Path, tokenizer, model=None):
    """A function running one forward of `case` on a collated batch."""
    from mimicry.probes.architectures import validate_architecture
    from mimicry.probes.capture.backends import make_backend
    from mimicry.probes.capture.positions import POSITIONS, position_weights
    from mimicry.probes.loading import load_causal_lm

    model = model or load_causal_lm(model_dir, dtype="float32", attn_implementation="sdpa")
    if case in ("bare", "bare_last"):
        extra = {"logits_to_keep": 1} if case == "bare_last" else {}

        def run(batch):
            with torch.inference_mode():
                model(input_ids=batch.input_ids, **extra)

        return run
    backend = make_backend(
        "nnsight",
        model=model,
        tokenizer=tokenizer,
        architecture=validate_architecture(model),
        entropy_method="fused" if case == "capture" else case,
    )

    def run(batch):
        return backend.run(batch, position_weights(batch, POSITIONS, torch.float32))

    return run


def child(case: str, model_dir: Path, n_tokens: int) -> None:
    """One case in this (fresh) process; prints one JSON line."""
    from mimicry.probes.capture.inputs import collate
    from mimicry.probes.loading import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    pad = tokenizer.pad_token_id
    run = runner(case, model_dir, tokenizer)
    run(collate([encoded(tokenizer, WARMUP_TOKENS)], pad))
    batch = collate([encoded(tokenizer, n_tokens)], pad)
    before = _status_mb("VmRSS")
    _reset_peak()
    cpu, start = _cpu_seconds(), time.perf_counter()
    run(batch)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    peak = _status_mb("VmHWM")
    row = {"case": case, "tokens": n_tokens, "wall_s": wall, "cpu_s": cpu}
    row |= {"rss_before_mb": before, "peak_mb": peak, "peak_growth_mb": peak - before}
    print(json.dumps(row))


def check_entropy(model_dir: Path, n_tokens: int, n_blocks: int = 2) -> float:
    """Max abs difference of fused vs eager entropy on blocks 1..n_blocks at n_tokens."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    from mimicry.probes.capture.inputs import collate
    from mimicry.probes.loading import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    batch = collate([encoded(tokenizer, n_tokens)], tokenizer.pad_token_id)
    logging.set_verbosity_error()  # the k-block copy's unused weights are expected
    results = {}
    for method, attn in (("fused", "sdpa"), ("eager", "eager")):
        # Entropy of blocks 1..k depends on those blocks only: a k-block copy keeps eager cheap.
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, num_hidden_layers=n_blocks, attn_implementation=attn, dtype=torch.float32
        ).eval()
        out = runner("capture" if method == "fused" else "eager", model_dir, tokenizer, model)(
            batch
        )
        results[method] = out.entropy
    return float((results["fused"] - results["eager"]).abs().max())


def spawn(case: str, model_dir: Path, n_tokens: int) -> dict:
    command = [sys.executable, __file__, "--child", case, "--model", str(model_dir)]
    out = subprocess.run(
        [*command, "--lengths", str(n_tokens)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"case {case} at {n_tokens} tokens failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="2048,4096,8192")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    model_dir = args.model or find_smollm2()
    lengths = [int(n) for n in args.lengths.split(",") if n.strip()]
    if args.child:
        child(args.child, model_dir, lengths[0])
        return
    report: dict = {"model": str(model_dir), "torch_threads": torch.get_num_threads()}
    report["load_average"] = os.getloadavg()
    if not args.skip_check:
        check_at = 2048
        diff = check_entropy(model_dir, check_at)
        report["entropy_check"] = {"tokens": check_at, "blocks": 2, "max_abs_diff": diff}
        print(f"fused vs eager entropy, blocks 1-2 at {check_at} tokens: max abs diff {diff:.2e}")
        if not diff <= TOLERANCE:
            sys.exit(f"entropy differs from the eager reference by {diff:.2e} > {TOLERANCE}")
    rows = []
    print(
        f"{'tokens':>6s} {'case':10s} {'wall s':>8s} {'cpu s':>8s} {'x bare':>7s} "
        f"{'x bare_last':>11s} {'peak growth MB':>15s}"
    )
    for n_tokens in lengths:
        found = {case: spawn(case, model_dir, n_tokens) for case in CASES}
        for case in CASES:
            row = found[case]
            row["x_bare"] = row["wall_s"] / found["bare"]["wall_s"]
            row["x_bare_last"] = row["wall_s"] / found["bare_last"]["wall_s"]
            rows.append(row)
            print(
                f"{n_tokens:6d} {case:10s} {row['wall_s']:8.1f} {row['cpu_s']:8.1f} "
                f"{row['x_bare']:7.2f} {row['x_bare_last']:11.2f} {row['peak_growth_mb']:15.0f}",
                flush=True,
            )
    report["rows"] = rows
    report["load_average_end"] = os.getloadavg()
    print(
        f"torch threads {report['torch_threads']}, load average at start "
        f"{report['load_average'][0]:.1f}, at end {report['load_average_end'][0]:.1f}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
