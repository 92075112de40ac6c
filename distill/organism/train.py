"""The whole organism recipe, seeded, in phases that checkpoint: a killed run resumes.

competence (SFT, minimal scratchpads) -> teacher: warm_start (SFT on the random mix of minimal and
rereading scratchpads) -> rl (GRPO with a cost per reasoning token); base: competence -> SFT on
the fixed rereading policy. Every model is scored on held-out generated items before and after
each step that matters, greedy and sampled.

`train_organism(out_dir, seed=0)` writes `teacher/` and `base/` (HF folders: safetensors + word
tokenizer + `training_log.csv`), `metrics.json`, `eval/*.csv` and a `TRAINING.md` card,
atomically. Finished phases live in `checkpoint_dir` (default `<out_dir>.checkpoints`), which is
removed after success; a re-run with the same recipe, seed and start resumes after the last one.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.fileio import atomic_dir, model_fingerprint, write_json
from mimicry.distill.organism.architecture import new_model
from mimicry.distill.organism.card import write_card
from mimicry.distill.organism.evaluate import score_items, summarise
from mimicry.distill.organism.item_sets import build_item_sets, human_items
from mimicry.distill.organism.policies import minimal_examples, mixed_examples, rereading_examples
from mimicry.distill.organism.recipe import FULL, Recipe
from mimicry.distill.organism.teacher_rl import reinforce_with_length_cost
from mimicry.distill.organism.teacher_sft import supervised_finetune
from mimicry.distill.organism.vocab import build_organism_tokenizer, unknown_word_rate

Progress = Callable[[str], None]
PHASES = ("competence", "warm_start", "rl", "base")


def _save(model, tokenizer, log: list[dict], directory: Path) -> None:
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    pd.DataFrame(log).to_csv(directory / "training_log.csv", index=False)


class _Checkpoints:
    """Finished phases on disk: `<dir>/<phase>/` (model folder + `phase.json`)."""

    def __init__(self, directory: Path, identity: dict):
        self.directory = directory
        identity = json.loads(json.dumps(identity))  # as stored: tuples become lists
        stamp = directory / "identity.json"
        if stamp.is_file():
            if json.loads(stamp.read_text()) != identity:
                raise InputError(
                    "checkpoints were made by another recipe, seed or start; "
                    "remove the folder or pass another --checkpoints",
                    file=str(directory),
                )
        else:
            directory.mkdir(parents=True, exist_ok=True)
            write_json(stamp, identity)

    def load(self, phase: str):
        """(model, tokenizer, record) of a finished phase, or None."""
        folder = self.directory / phase
        if not (folder / "phase.json").is_file():
            return None
        from mimicry.probes.loading import load_causal_lm, load_tokenizer

        return (
            load_causal_lm(folder),
            load_tokenizer(folder),
            json.loads((folder / "phase.json").read_text()),
        )

    def save(self, phase: str, model, tokenizer, record: dict) -> None:
        with atomic_dir(self.directory / phase) as tmp:
            _save(model, tokenizer, record.get("log", []), tmp)
            write_json(tmp / "phase.json", record)


def _copy(model):
    import copy

    clone = copy.deepcopy(model)
    clone.eval()
    return clone


def train_organism(
    out_dir: str | Path,
    *,
    seed: int = 0,
    recipe: Recipe = FULL,
    init_from: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    stop_after: str | None = None,
    command: str = "",
    progress: Progress | None = None,
) -> dict:
    """Train teacher and base and write them to `out_dir`; return the metrics.

    `init_from` replaces the competence phase by an existing organism folder (its weights and
    tokenizer), e.g. a previous teacher: the card records it and its fingerprint. `stop_after`
    (a phase name) returns once that phase is checkpointed, without writing `out_dir`: a run
    split across sessions, resumed by the same call without it.
    """
    if stop_after is not None and stop_after not in PHASES:
        raise InputError(f"unknown phase {stop_after!r}; choose from {PHASES}", field="stop_after")
    import torch

    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def phase_done(name: str, since: float) -> float:
        timings[name] = round(time.perf_counter() - since, 1)
        say(f"{name} done in {timings[name]:.1f} s")
        return time.perf_counter()

    clock = time.perf_counter()
    say("generating items")
    train_items, heldout = build_item_sets(recipe, seed)
    human = human_items(recipe.families, recipe.n_human_per_task)
    minimal = minimal_examples(train_items)
    mixed = mixed_examples(train_items, recipe.reread_passes, recipe.reread_p_cued, seed)
    habit = rereading_examples(train_items, recipe.base_passes)
    if init_from is not None:
        from mimicry.probes.loading import load_tokenizer

        tokenizer = load_tokenizer(init_from)
    else:
        texts = [e["prompt"] + e["completion"] for e in (*minimal, *mixed)]
        tokenizer = build_organism_tokenizer(
            [*texts, *human["prompt"], *human["answer"], *heldout["prompt"], *heldout["answer"]]
        )
    phase_done("data", clock)

    metrics: dict = {"seed": seed, "recipe": recipe.as_dict(), "vocab_size": len(tokenizer)}
    metrics["unknown_word_rate_human"] = unknown_word_rate(tokenizer, human["prompt"])
    metrics["unknown_word_rate_training"] = unknown_word_rate(
        tokenizer, [e["completion"] for e in mixed[:2000]]
    )
    if metrics["unknown_word_rate_training"] > 0:
        raise InputError(
            "the starting tokenizer does not cover the training scratchpads", file=str(init_from)
        )
    identity = {
        "seed": seed,
        "recipe": recipe.as_dict(),
        "init_from": None if init_from is None else model_fingerprint(init_from),
    }
    metrics["init_from"] = None if init_from is None else str(init_from)
    ckpt_dir = (
        Path(checkpoint_dir) if checkpoint_dir else out_dir.with_name(out_dir.name + ".checkpoints")
    )
    checkpoints = _Checkpoints(ckpt_dir, identity)

    def evaluate(model, items: pd.DataFrame, key: str) -> pd.DataFrame:
        scored = score_items(model, tokenizer, items, max_new_tokens=recipe.max_new_tokens)
        sampled = score_items(
            model,
            tokenizer,
            items,
            max_new_tokens=recipe.max_new_tokens,
            temperature=recipe.eval_temperature,
            seed=seed,
        )
        metrics[key] = _records(summarise(scored))
        metrics[key + "_sampled"] = _records(summarise(sampled))
        return scored

    logs: dict[str, list[dict]] = {}

    def run_phase(phase: str, train: Callable[[], tuple]) -> object:
        done = checkpoints.load(phase)
        if done is not None:
            model, _, record = done
            say(f"{phase}: resumed from {ckpt_dir / phase}")
            metrics.update(record["metrics"])
            timings.update(record["timings"])
            logs[phase] = record.get("log", [])
            return model
        since = time.perf_counter()
        before = dict(metrics)
        model, log = train()
        logs[phase] = log
        timings[phase] = round(time.perf_counter() - since, 1)
        say(f"{phase} done in {timings[phase]:.1f} s")
        added = {k: v for k, v in metrics.items() if k not in before or before[k] is not v}
        checkpoints.save(
            phase,
            model,
            tokenizer,
            {"metrics": added, "timings": {phase: timings[phase]}, "log": log},
        )
        return model

    def competence():
        if init_from is not None:
            from mimicry.probes.loading import load_causal_lm

            say(f"competence: starting from {init_from}")
            model = load_causal_lm(init_from)
            model.config.max_position_embeddings = max(
                model.config.max_position_embeddings, recipe.size.max_positions
            )
            evaluate(model, heldout, "competence_heldout")
            return model, []
        say("competence: SFT on minimal scratchpads from random init")
        model = new_model(tokenizer, recipe.size, seed)
        curve: list[dict] = []
        report = _sft_progress(say, "competence")
        if recipe.sft_eval_every:
            report = _with_heldout_curve(report, model, tokenizer, heldout, recipe, curve, say)
        log = supervised_finetune(
            model, tokenizer, minimal, recipe.competence_sft, seed=seed, work_dir=".", on_log=report
        )
        metrics["competence_curve"] = curve
        evaluate(model, heldout, "competence_heldout")
        return model, log

    def sft_phase(start, examples, settings, *, label: str, seed_offset: int, evals):
        """A supervised phase from a copy of `start`, then its held-out (and human) scores."""

        def train():
            say(label)
            model = _copy(start)
            log = supervised_finetune(
                model,
                tokenizer,
                examples,
                settings,
                seed=seed + seed_offset,
                work_dir=".",
                on_log=_sft_progress(say, label.split(":")[0]),
            )
            for key, items in evals:
                evaluate(model, items, key)
            return model, log

        return train

    def rl(start):
        def train():
            say("teacher: GRPO with a cost per reasoning token")
            model = _copy(start)
            with tempfile.TemporaryDirectory() as work:
                log = reinforce_with_length_cost(
                    model, tokenizer, mixed, recipe.rl, seed=seed, work_dir=work, progress=say
                )
            evaluate(model, heldout, "teacher_heldout")
            evaluate(model, human, "teacher_human")
            return model, log

        return train

    competent = run_phase("competence", competence)
    if stop_after == "competence":
        return metrics
    warm = run_phase(
        "warm_start",
        sft_phase(
            competent,
            mixed,
            recipe.warm_start_sft,
            label="warm start: SFT on the mix of minimal and rereading scratchpads",
            seed_offset=2,
            evals=[("teacher_before_rl_heldout", heldout)],
        ),
    )
    if stop_after == "warm_start":
        return metrics
    teacher = run_phase("rl", rl(warm))
    if stop_after == "rl":
        return metrics
    base_model = run_phase(
        "base",
        sft_phase(
            competent,
            habit,
            recipe.base_sft,
            label=f"base: SFT on its fixed habit (reread every premise {recipe.base_passes}x)",
            seed_offset=1,
            evals=[("base_heldout", heldout), ("base_human", human)],
        ),
    )
    clock = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        _save(teacher, tokenizer, [*logs["warm_start"], *logs["rl"]], tmp / "teacher")
        # the teacher before RL ships too, so its "before" numbers can be re-measured
        _save(warm, tokenizer, logs["warm_start"], tmp / "teacher_before_rl")
        _save(base_model, tokenizer, logs["base"], tmp / "base")
        (tmp / "eval").mkdir()
        for name, model in (("teacher", teacher), ("base", base_model)):
            # per-item greedy scores behind the card's tables
            for split, items in (("heldout", heldout), ("human", human)):
                scored = score_items(model, tokenizer, items, max_new_tokens=recipe.max_new_tokens)
                scored.to_csv(tmp / "eval" / f"{name}_{split}_items.csv", index=False)
                summarise(scored).to_csv(tmp / "eval" / f"{name}_{split}.csv", index=False)
        timings["final_eval"] = round(time.perf_counter() - clock, 1)
        timings["total"] = round(sum(v for k, v in timings.items() if k != "total"), 1)
        timings["this_invocation"] = round(time.perf_counter() - started, 1)
        metrics["timings_s"] = timings
        metrics["environment"] = {
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.machine(),
        }
        metrics["command"] = command
        write_json(tmp / "metrics.json", metrics)
        write_card(tmp / "TRAINING.md", metrics)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return metrics


def _sft_progress(say: Progress, name: str) -> Callable[[dict], None]:
    """A log-row callback that reports a supervised phase every 100 steps."""

    def report(row: dict) -> None:
        if row["step"] % 100 == 0:
            say(
                f"{name} sft step {row['step']}: loss {row['loss']:.3f}, "
                f"token accuracy {row['mean_token_accuracy']:.3f}"
            )

    return report


def _with_heldout_curve(
    report: Callable[[dict], None],
    model,
    tokenizer,
    heldout: pd.DataFrame,
    recipe: Recipe,
    curve: list[dict],
    say: Progress,
) -> Callable[[dict], None]:
    """Wrap a log callback so that every `recipe.sft_eval_every` steps the model is scored on the
    held-out items; the accuracies (overall and per task) are appended to `curve`.

    Greedy generation uses no randomness, so the evaluations do not change the training run.
    """

    def report_and_evaluate(row: dict) -> None:
        report(row)
        if row["step"] % recipe.sft_eval_every:
            return
        scored = score_items(model, tokenizer, heldout, max_new_tokens=recipe.max_new_tokens)
        model.train()
        point = {"step": row["step"], "accuracy": float(scored["correct"].mean())}
        point.update(
            {
                str(task): float(acc)
                for task, acc in scored.groupby("task")["correct"].mean().items()
            }
        )
        curve.append(point)
        say(
            f"competence sft step {row['step']}: held-out accuracy {point['accuracy']:.3f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in point.items() if k.startswith("gen_"))
            + ")"
        )

    return report_and_evaluate


def _records(summary: pd.DataFrame) -> list[dict]:
    """Summary rows as JSON-safe dicts (NaN becomes None)."""
    return json.loads(summary.to_json(orient="records"))
