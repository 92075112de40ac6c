"""The study at real scale: time per stage, capture throughput and peak memory of real shapes.

Issue #7 asks for throughput (tokens per second captured), peak GPU memory and the time per
stage of the study run on the smallest real triple a GPU box can hold. No model hub is reachable
here, so the weights cannot be had: the script builds random-init models of the real
architectures and sizes from their Hugging Face config values (`ARCHITECTURES`; the embedding and
head keep the real vocabulary size, so parameter counts and memory are the real ones) and runs
the suite's own pipeline on them (`experiments.pipeline.run_pipeline`, the stages data, generate,
behaviour, capture with attention entropy, probe, compare and report; `--steer` adds steer).

Teacher, base and student are separate random-init models (seeds seed+1, +2, +3) saved as
safetensors folders with a word tokenizer carrying the registry family's chat template and think
tags, padded with filler words to the real vocabulary size so every id a random model samples
decodes to one word (one token). The run config follows the shipped config of the triple
(`experiments/configs/<triple>.yaml`): the teacher's traces come from a file, as DeepSeek-R1's do
there, written here with lengths between max_new_tokens / 2 and max_new_tokens growing with the
human RT; base and student generate max_new_tokens tokens each (random weights never stop), and
capture reads every model on the teacher's traces. Random weights make the outputs meaningless;
the compute, memory and file sizes are those of the real models.

Measured: seconds and peak memory per stage (`torch.cuda.max_memory_allocated`, reset before
each unit, on CUDA; peak RSS on CPU, reset per unit through /proc/self/clear_refs where Linux
allows it, else the process peak from `getrusage`); generated tokens per second per model; per
captured model the tokens read and tokens per second of the pipeline's capture unit (load,
tokenize, forward with hooks, write), and, in the same run over the same batches, a bare forward
without hooks and the capture engine's forward alone (after one warm-up batch each), with the
capture/bare ratios; parameters and bf16 weight GB per model.

Usage:
    quick CPU check (one layer, tiny study; reduced resamples and probe folds):
        python benchmarks/real_scale.py --arch qwen2.5-1.5b --device cpu --layers 2 --items 4 \
            --max-new-tokens 16
    the real measurement on a GPU (all layers, bf16, 1024-token traces):
        python benchmarks/real_scale.py --arch qwen2.5-1.5b --json real_scale_1.5b.json
        python benchmarks/real_scale.py --arch llama-3.1-8b --out /scratch/rs-8b
Disk: about 5 x the bf16 weights (three models and two random-init baselines the capture stage
saves); `--no-random-init-baseline` drops the last two.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimicry.data.exclusions import Exclusions  # noqa: E402
from mimicry.data.items import read_items  # noqa: E402
from mimicry.data.traces import read_traces  # noqa: E402
from mimicry.distill.word_tokenizer import build_word_tokenizer  # noqa: E402
from mimicry.experiments.config import RunConfig, load_config, with_reduced_statistics  # noqa: E402
from mimicry.experiments.pipeline import run_pipeline  # noqa: E402
from mimicry.experiments.pipeline.models import (  # noqa: E402
    RANDOM_INIT_SUFFIX,
    model_specs,
    prompt_options,
)
from mimicry.experiments.pipeline.stages import STAGE_BUILDERS  # noqa: E402
from mimicry.experiments.registry import load_registry  # noqa: E402
from mimicry.probes.capture.texts import encode_items, select_traces  # noqa: E402

# True config values of the Hugging Face checkpoints; `models` names the registry entries each
# architecture stands for; `base` holds where the pre-distillation base differs from the student.
ARCHITECTURES: dict[str, dict] = {
    "qwen2.5-1.5b": {
        "triple": "r1-distill-qwen-1.5b",
        "models": {
            "teacher": "deepseek-r1-distill-qwen-1.5b",
            "student": "deepseek-r1-distill-qwen-1.5b",
            "base": "qwen2.5-math-1.5b",
        },
        "config": {
            "model_type": "qwen2",
            "hidden_size": 1536,
            "num_hidden_layers": 28,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
            "intermediate_size": 8960,
            "vocab_size": 151936,
            "rope_theta": 10000.0,
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": False,
        },
        "base": {"tie_word_embeddings": True, "max_position_embeddings": 4096},
    },
    "qwen2.5-7b": {
        "triple": "r1-distill-qwen-7b",
        "models": {
            "teacher": "deepseek-r1-distill-qwen-7b",
            "student": "deepseek-r1-distill-qwen-7b",
            "base": "qwen2.5-math-7b",
        },
        "config": {
            "model_type": "qwen2",
            "hidden_size": 3584,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "intermediate_size": 18944,
            "vocab_size": 152064,
            "rope_theta": 10000.0,
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": False,
        },
        "base": {"max_position_embeddings": 4096},
    },
    "llama-3.1-8b": {
        "triple": "r1-distill-llama-8b",
        "models": {
            "teacher": "deepseek-r1-distill-llama-8b",
            "student": "deepseek-r1-distill-llama-8b",
            "base": "llama-3.1-8b",
        },
        "config": {
            "model_type": "llama",
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "intermediate_size": 14336,
            "vocab_size": 128256,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-5,
            "tie_word_embeddings": False,
        },
        "base": {},
    },
}
ROLES = ("teacher", "base", "student")
WORD_IDS = {"pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3}  # build_word_tokenizer's
ROLE_WORDS = ("user", "assistant", "system")
FILLER = "zq{:06d}"
TRACE_WORDS = 50_000  # filler words teacher traces draw from (every family has more)
GB = 1e9


# --- models -----------------------------------------------------------------------------------


def model_config(arch: str, role: str, layers: int | None):
    """The HF config of one role, optionally with fewer layers (quick CPU checks)."""
    from transformers import AutoConfig

    entry = ARCHITECTURES[arch]
    values = {**entry["config"], **(entry["base"] if role == "base" else {}), **WORD_IDS}
    if layers is not None:
        values["num_hidden_layers"] = layers
    return AutoConfig.for_model(values.pop("model_type"), dtype="bfloat16", **values)


def count_parameters(config) -> int:
    """Parameters of a config's model, built on the meta device (no memory, no time)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config).num_parameters()


def family_tokenizer(registry_name: str, texts: list[str], vocab_size: int):
    """A word tokenizer of the family's chat template and think tags, padded with filler words to
    the real vocabulary size so every id a random-init model samples decodes to one word."""
    convention = load_registry().convention_of(registry_name)
    whole = (*convention.chat_tokens, convention.think_open, convention.think_close)

    def build(extra: tuple[str, ...]):
        return build_word_tokenizer(
            texts,
            (*ROLE_WORDS, *extra),
            whole_tokens=whole,
            chat_template=convention.template_text(),
        )

    core = len(build(()))
    tokenizer = build(tuple(FILLER.format(i) for i in range(vocab_size - core)))
    if len(tokenizer) != vocab_size:
        raise RuntimeError(f"tokenizer has {len(tokenizer)} ids, the model {vocab_size}")
    return tokenizer


def build_model(folder: Path, config, tokenizer, *, seed: int, device: str) -> None:
    """Save a random-init model (bf16 safetensors, as real checkpoints ship) and its tokenizer;
    initialised on the run's device, where a multi-billion normal_ init is fast."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    del model
    free_memory(device)


def build_models(args, work: Path, items_csv: Path) -> dict[str, dict]:
    """Teacher, base and student folders of the architecture; their sizes, for the report."""
    items = pd.read_csv(items_csv, dtype=str)
    texts = [*items["prompt"].tolist(), *items["answer"].tolist()]
    registry = load_registry()
    models = {}
    for offset, role in enumerate(ROLES, start=1):
        name = ARCHITECTURES[args.arch]["models"][role]
        config = model_config(args.arch, role, args.layers)
        folder = work / "models" / role
        tokenizer = family_tokenizer(name, texts, config.vocab_size)
        start = time.perf_counter()
        build_model(folder, config, tokenizer, seed=args.seed + offset, device=args.device)
        built = count_parameters(config)
        full = count_parameters(model_config(args.arch, role, None))
        models[role] = {
            "registry": name,
            "folder": str(folder),
            "layers": config.num_hidden_layers,
            "params": built,
            "bf16_gb": built * 2 / GB,
            "params_full": full,
            "bf16_gb_full": full * 2 / GB,
            "registry_params_b": registry.models[name].params_b,
            "build_seconds": time.perf_counter() - start,
        }
    return models


def check_disk(args, work: Path) -> None:
    """Warn before writing more weights than the disk holds (the random-init baselines too)."""
    params = count_parameters(model_config(args.arch, "student", args.layers))
    copies = 3 + (2 if args.random_init_baseline else 0)
    need = copies * params * 2
    free = shutil.disk_usage(work).free
    print(f"weights to write: ~{need / GB:.1f} GB ({copies} models, bf16); free {free / GB:.1f} GB")
    if need > free:
        print("WARNING: not enough disk; use --out on a larger disk or --no-random-init-baseline")


# --- config and traces ------------------------------------------------------------------------


def spec_for(base_spec, folder: str, registry_name: str, args, **extra):
    """A shipped ModelSpec pointed at a local folder, on this run's device and dtype."""
    device = "auto" if args.device == "cuda" else "cpu"  # as the shipped configs do on GPUs
    update = {"source": folder, "registry": registry_name, "device": device, "dtype": args.dtype}
    return base_spec.model_copy(update={**update, "activations": True, **extra})


def run_config(args, work: Path, traces: Path) -> RunConfig:
    """The shipped config of the triple, with the local models, fewer items and these options."""
    shipped = load_config(
        REPO / "experiments" / "configs" / f"{ARCHITECTURES[args.arch]['triple']}.yaml"
    )
    names = ARCHITECTURES[args.arch]["models"]
    folder = {role: str(work / "models" / role) for role in ROLES}
    models = shipped.models.model_copy(
        update={
            "teacher": spec_for(
                shipped.models.teacher, folder["teacher"], names["teacher"], args, traces=traces
            ),
            "base": spec_for(shipped.models.base, folder["base"], names["base"], args),
            "students": {
                key: spec_for(spec, folder["student"], names["student"], args)
                for key, spec in shipped.models.students.items()
            },
        }
    )
    stages = ["data", "generate", "behaviour", "capture", "probe", "compare"]
    stages += ["steer", "report"] if args.steer else ["report"]
    config = shipped.model_copy(
        update={
            "name": f"real-scale-{args.arch}",
            "seed": args.seed,
            "tasks": shipped.tasks.model_copy(update={"max_items_per_task": args.items}),
            "models": models,
            "generate": shipped.generate.model_copy(update={"max_new_tokens": args.max_new_tokens}),
            "capture": shipped.capture.model_copy(
                update={
                    "batch_size": 0,
                    "entropy": True,
                    "random_init_baseline": args.random_init_baseline,
                }
            ),
            "stages": stages,
        }
    )
    return with_reduced_statistics(config, steer_items=4) if args.stats == "reduced" else config


def write_teacher_traces(items_csv: Path, out: Path, max_new_tokens: int, seed: int) -> Path:
    """Teacher traces in the trace format (as from an API), one filler word per token, lengths
    from max_new_tokens / 2 to max_new_tokens growing with the human RT."""
    items = pd.read_csv(items_csv, dtype={"item_id": str})
    rt = items["human_rt_ms"].fillna(items["human_rt_ms"].median()).fillna(0.0)
    rank = rt.rank(method="first").to_numpy() / len(items)
    low = max(1, max_new_tokens // 2)
    lengths = np.round(low + (max_new_tokens - low) * rank).astype(int)
    rng = np.random.default_rng(seed)
    with out.open("w", encoding="utf-8") as handle:
        for item_id, answer, length in zip(items["item_id"], items["answer"], lengths, strict=True):
            words = rng.integers(0, TRACE_WORDS, int(length))
            reasoning = " ".join(FILLER.format(int(w)) for w in words)
            line = {
                "item_id": item_id,
                "model": "teacher",
                "sample": 0,
                "reasoning": reasoning,
                "answer": str(answer),
                "correct": True,
                "n_reasoning_tokens": int(length),
            }
            handle.write(json.dumps(line) + "\n")
    return out


# --- memory -----------------------------------------------------------------------------------


def free_memory(device: str) -> None:
    """Drop what the last unit left, so the next peak is its own."""
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


class PeakMemory:
    """Peak bytes since the last reset: CUDA's allocator count, or the process's peak RSS."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        self.resettable = self.cuda or self._reset_rss()
        self.label = (
            "peak GPU allocated"
            if self.cuda
            else ("peak RSS" if self.resettable else "process peak RSS (not resettable)")
        )

    @staticmethod
    def _reset_rss() -> bool:
        """Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS."""
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            return True
        except OSError:
            return False

    def reset(self) -> None:
        free_memory("cuda" if self.cuda else "cpu")
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        elif self.resettable:
            self._reset_rss()

    def peak(self) -> int:
        if self.cuda:
            return int(torch.cuda.max_memory_allocated())
        if self.resettable:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measured_builders(meter: PeakMemory, peaks: dict) -> dict:
    """The pipeline's stage builders, each unit wrapped to record its own peak memory."""

    def wrap(stage, builder):
        def build(ctx):
            units = builder(ctx)
            for unit in units:
                unit.run = measured_run(unit.run, meter, peaks, (stage, unit.name))
            return units

        return build

    return {stage: wrap(stage, builder) for stage, builder in STAGE_BUILDERS.items()}


def measured_run(run, meter: PeakMemory, peaks: dict, key: tuple[str, str]):
    """`run` with the memory peak reset before it and read after it."""

    def wrapped(step) -> None:
        meter.reset()
        try:
            run(step)
        finally:
            peaks[key] = meter.peak()

    return wrapped


# --- capture: tokens and the bare-forward baseline --------------------------------------------


def capture_inputs(config: RunConfig, run_dir: Path, name: str, folder: str):
    """The encoded items the capture unit of `name` read (same tokenizer, template, traces)."""
    from transformers import AutoConfig

    from mimicry.probes.loading import load_tokenizer

    reading = prompt_options(model_specs(config)[name]).capture
    tokenizer = load_tokenizer(folder)
    items = read_items(run_dir / "items.csv")
    trace_file = run_dir / "traces" / f"{config.capture.traces_from}.jsonl"

    def count(texts):
        return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    frame, _ = read_traces([trace_file], item_ids=items["item_id"].tolist(), count_tokens=count)
    reasoning = select_traces(frame, config.capture.traces_from, trace_file)
    model_config_ = AutoConfig.from_pretrained(folder)
    encoded = encode_items(
        tokenizer,
        items,
        reasoning,
        positions=list(config.capture.positions),
        template=reading.get("template", "raw"),
        think_tags=tuple(reading.get("think_tags", ("<think>", "</think>"))),
        max_tokens=model_config_.max_position_embeddings,
        model_name=name,
        exclusions=Exclusions(),
    )
    return tokenizer, encoded


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed_passes(run_batch, batches, meter: PeakMemory, device: str) -> tuple[float, int]:
    """Seconds and peak memory of one pass over `batches`, after one warm-up batch (the first
    call pays for kernel selection and allocator growth, which a long capture amortises)."""
    run_batch(batches[-1])
    synchronize(device)
    meter.reset()
    start = time.perf_counter()
    for batch in batches:
        run_batch(batch)
    synchronize(device)
    return time.perf_counter() - start, meter.peak()


def baseline(config: RunConfig, run_dir: Path, name: str, folder: str, args, meter) -> dict:
    """Bare forward (no hooks, last logits only, as capture asks) and the capture engine's
    forward over the capture's own batches, one model load for both."""
    from mimicry.probes.architectures import validate_architecture
    from mimicry.probes.capture.backends import make_backend
    from mimicry.probes.capture.entropy import fused_available
    from mimicry.probes.capture.inputs import collate, plan_batches
    from mimicry.probes.capture.positions import position_weights
    from mimicry.probes.loading import load_causal_lm

    manifest = json.loads((run_dir / "activations" / name / "manifest.json").read_text())
    tokenizer, encoded = capture_inputs(config, run_dir, name, folder)
    device = "cuda:0" if args.device == "cuda" else "cpu"
    rows = plan_batches([len(e.input_ids) for e in encoded], manifest["batch_size"])
    batches = [collate([encoded[i] for i in r], tokenizer.pad_token_id).to(device) for r in rows]
    positions = list(config.capture.positions)
    meter.reset()
    start = time.perf_counter()
    spec_device = "auto" if args.device == "cuda" else "cpu"
    model = load_causal_lm(folder, dtype=args.dtype, device=spec_device, attn_implementation="sdpa")
    synchronize(device)
    load_seconds = time.perf_counter() - start

    def bare(batch):
        with torch.inference_mode():
            model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                position_ids=batch.position_ids,
                logits_to_keep=1,
            )

    bare_seconds, bare_peak = timed_passes(bare, batches, meter, device)
    method = "fused" if fused_available(device) else "chunked"  # capture's `auto` choice
    engine = make_backend(
        "nnsight",
        model=model,
        tokenizer=tokenizer,
        architecture=validate_architecture(model),
        entropy_method=method,
    )
    hooked_seconds, hooked_peak = timed_passes(
        lambda b: engine.run(b, position_weights(b, positions, torch.float32)),
        batches,
        meter,
        device,
    )
    return {
        "n_items": len(encoded),
        "manifest_items": manifest["n_items"],
        "batch_size": manifest["batch_size"],
        "tokens": sum(len(e.input_ids) for e in encoded),
        "padded_tokens": sum(b.input_ids.numel() for b in batches),
        "entropy_method": method,
        "load_seconds": load_seconds,
        "bare_seconds": bare_seconds,
        "bare_peak": bare_peak,
        "hooked_seconds": hooked_seconds,
        "hooked_peak": hooked_peak,
    }


# --- the run ----------------------------------------------------------------------------------


def run_study(args, work: Path) -> dict:
    """Items, models, traces, then every stage; what each unit took."""
    meter = PeakMemory(args.device)
    peaks: dict = {}
    builders = measured_builders(meter, peaks)
    run_dir = work / "run"
    traces = work / "teacher-traces.jsonl"
    config = run_config(args, work, traces)
    if run_dir.exists():  # a fresh run, so no unit is skipped as already done
        print(f"removing the previous run {run_dir}")
        shutil.rmtree(run_dir)
    results = run_pipeline(config, run_dir, builders=builders, only=["data"])
    check_disk(args, work)
    start = time.perf_counter()
    models = build_models(args, work, run_dir / "items.csv")
    build_seconds = time.perf_counter() - start
    write_teacher_traces(run_dir / "items.csv", traces, args.max_new_tokens, args.seed)
    rest = [s for s in config.stages if s != "data"]
    results += run_pipeline(config, run_dir, builders=builders, only=rest)
    units = [
        {
            "stage": r.stage,
            "unit": r.unit,
            "status": r.status,
            "seconds": r.seconds,
            "peak_bytes": peaks.get((r.stage, r.unit)),
        }
        for r in results
    ]
    folders = {"teacher": models["teacher"]["folder"], "base": models["base"]["folder"]}
    folders |= {f"student_{k}": models["student"]["folder"] for k in config.models.students}
    baselines = {}
    for name, folder in folders.items():
        baselines[name] = baseline(config, run_dir, name, folder, args, meter)
        free_memory(args.device)  # the model died with `baseline`'s frame
    return {
        "arch": args.arch,
        "device": args.device,
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
        "dtype": args.dtype,
        "items_per_task": args.items,
        "max_new_tokens": args.max_new_tokens,
        "memory": meter.label,
        "build_seconds": build_seconds,
        "models": models,
        "units": units,
        "generated": generated_tokens(run_dir, units),
        "capture": capture_rows(units, baselines),
        "run_dir": str(run_dir),
    }


def generated_tokens(run_dir: Path, units: list[dict]) -> dict:
    """Tokens each model generated (teacher traces are copied, not generated) and tokens/s."""
    out = {}
    for unit in units:
        if unit["stage"] != "generate" or unit["unit"] == "teacher":
            continue
        path = run_dir / "traces" / f"{unit['unit']}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line]
        tokens = sum(int(r.get("n_generated_tokens", 0)) for r in rows)
        out[unit["unit"]] = {"tokens": tokens, "seconds": unit["seconds"]}
    return out


def capture_rows(units: list[dict], baselines: dict) -> dict:
    """Per capture unit: tokens read (random-init copies read their role's tokens) and speeds."""
    rows = {}
    for unit in units:
        if unit["stage"] != "capture":
            continue
        name = unit["unit"]
        source = name.removesuffix(RANDOM_INIT_SUFFIX)
        linked = name.endswith(RANDOM_INIT_SUFFIX) and source not in ("teacher", "base")
        base = baselines.get(source)
        rows[name] = {
            "seconds": unit["seconds"],
            "peak_bytes": unit["peak_bytes"],
            "linked": linked,  # a student's random-init baseline is the base's, hard-linked
            **({} if base is None or linked else base),
        }
    return rows


# --- printing ---------------------------------------------------------------------------------


def rate(tokens: float, seconds: float) -> str:
    return f"{tokens / seconds:10.1f}" if seconds > 0 else f"{'-':>10s}"


def gb(value) -> str:
    return f"{value / GB:8.2f}" if value is not None else f"{'-':>8s}"


def print_report(result: dict) -> None:
    """The tables: models, stages, generation, capture against the bare forward."""
    print(
        f"\n== real-scale {result['arch']} on {result['gpu'] or result['device']}, "
        f"{result['dtype']}, {result['items_per_task']} items/task, "
        f"{result['max_new_tokens']} new tokens; memory = {result['memory']} =="
    )
    print(f"{'role':8s} {'registry':32s} {'layers':>6s} {'params':>14s} {'bf16 GB':>8s}  full size")
    for role, m in result["models"].items():
        print(
            f"{role:8s} {m['registry']:32s} {m['layers']:6d} {m['params']:14,d} "
            f"{m['bf16_gb']:8.2f}  {m['params_full'] / 1e9:.2f} B params, "
            f"{m['bf16_gb_full']:.1f} GB (registry {m['registry_params_b']} B)"
        )
    print(f"models built and saved in {result['build_seconds']:.1f} s\n")
    stages: dict[str, list] = defaultdict(list)
    for unit in result["units"]:
        stages[unit["stage"]].append(unit)
    print(f"{'stage':12s} {'units':>5s} {'seconds':>9s} {'peak GB':>8s}")
    for stage, units in stages.items():
        peak = max((u["peak_bytes"] or 0) for u in units)
        seconds = sum(u["seconds"] for u in units)
        print(f"{stage:12s} {len(units):5d} {seconds:9.1f} {gb(peak)}")
    total = sum(u["seconds"] for u in result["units"])
    print(f"{'total':12s} {'':5s} {total:9.1f}\n")
    print(f"{'generate':24s} {'tokens':>8s} {'seconds':>9s} {'tok/s':>10s}")
    for name, g in result["generated"].items():
        print(f"{name:24s} {g['tokens']:8d} {g['seconds']:9.1f} {rate(g['tokens'], g['seconds'])}")
    print_capture(result["capture"])


def print_capture(rows: dict) -> None:
    """Capture units: whole unit, bare forward and hooked forward, tokens/s and ratios."""
    print(
        f"\n{'capture':28s} {'items':>5s} {'batch':>5s} {'tokens':>8s} {'unit s':>8s} "
        f"{'unit t/s':>10s} {'bare t/s':>10s} {'hooks t/s':>10s} {'hooks/bare':>10s} "
        f"{'unit/(load+bare)':>16s} {'unit GB':>8s} {'bare GB':>8s} {'hooks GB':>8s}"
    )
    for name, row in rows.items():
        if row["linked"] or "tokens" not in row:
            note = "hard link to the base's" if row["linked"] else ""
            print(f"{name:28s} {'':>5s} {'':>5s} {'':>8s} {row['seconds']:8.1f}  {note}")
            continue
        tokens = row["tokens"]
        bare = row["bare_seconds"]
        print(
            f"{name:28s} {row['n_items']:5d} {row['batch_size']:5d} {tokens:8d} "
            f"{row['seconds']:8.1f} {rate(tokens, row['seconds'])} {rate(tokens, bare)} "
            f"{rate(tokens, row['hooked_seconds'])} {row['hooked_seconds'] / bare:10.2f} "
            f"{row['seconds'] / (row['load_seconds'] + bare):16.2f} {gb(row['peak_bytes'])} "
            f"{gb(row['bare_peak'])} {gb(row['hooked_peak'])}"
        )
    print(
        "unit = the pipeline's capture unit (load, tokenize, forward with hooks and entropy, "
        "write); bare = forward without hooks (logits_to_keep=1); hooks = capture engine forward; "
        "bare/hooks timed after one warm-up batch; random-init units read their role's tokens "
        "and their unit time includes building and saving the random-init copy"
    )


# --- command line -----------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="qwen2.5-1.5b")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default=None)
    parser.add_argument("--layers", type=int, default=None, help="override the layer count")
    parser.add_argument("--items", type=int, default=None, help="items per task (cuda 16, cpu 3)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="cuda 1024, cpu 32")
    parser.add_argument(
        "--stats",
        choices=("full", "reduced"),
        default=None,
        help="resamples and probe folds: the shipped config's (cuda default) or few (cpu)",
    )
    parser.add_argument("--steer", action="store_true", help="also run the steer stage")
    parser.add_argument(
        "--no-random-init-baseline",
        dest="random_init_baseline",
        action="store_false",
        help="skip the random-init capture baselines",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep models and run here")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    args.device = args.device or ("cuda" if cuda else "cpu")
    if args.device == "cuda" and not cuda:
        parser.error("--device cuda but no GPU is visible")
    on_gpu = args.device == "cuda"
    args.dtype = args.dtype or ("bfloat16" if on_gpu else "float32")
    args.items = args.items or (16 if on_gpu else 3)
    args.max_new_tokens = args.max_new_tokens or (1024 if on_gpu else 32)
    args.stats = args.stats or ("full" if on_gpu else "reduced")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    keep = args.out is not None
    work = args.out.resolve() if keep else Path(tempfile.mkdtemp(prefix="real-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as cleanup:
        if not keep:
            cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        result = run_study(args, work)
    result["wall_seconds"] = time.perf_counter() - started
    print_report(result)
    print(f"wall {result['wall_seconds']:.1f} s" + (f"; run kept in {work}" if keep else ""))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
