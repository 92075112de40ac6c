"""The whole organism recipe, seeded: data -> tokenizer -> teacher SFT -> teacher GRPO -> base -> eval.

`train_organism(out_dir, seed=0)` writes `teacher/` and `base/` (HF folders: safetensors +
word tokenizer + `training_log.csv`), `metrics.json`, `eval/*.csv` and a `TRAINING.md` card, all
atomically (nothing appears at `out_dir` unless every phase finished).
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from data.fileio import atomic_dir, write_json
from distill.organism.architecture import new_model
from distill.organism.base import train_base
from distill.organism.card import write_card
from distill.organism.evaluate import score_items, summarise
from distill.organism.recipe import FULL, Recipe
from distill.organism.scratchpad import format_scratchpad
from distill.organism.teacher_rl import reinforce_with_length_cost
from distill.organism.teacher_sft import supervised_finetune
from distill.organism.vocab import build_organism_tokenizer, unknown_word_rate

Progress = Callable[[str], None]


def build_item_sets(recipe: Recipe, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generated training and held-out tables per family, disjoint by prompt (one draw, split).

    `data.generators.generate_items` never emits a human-normed prompt and no prompt twice, so
    splitting one table keeps the held-out and human items unseen in training.
    """
    from data.generators import generate_items

    train, heldout = [], []
    n_total = recipe.n_train_per_family + recipe.n_heldout_per_family
    for family in recipe.families:
        table = generate_items(family, n_total, seed)
        train.append(table.iloc[: recipe.n_train_per_family])
        heldout.append(table.iloc[recipe.n_train_per_family :])
    return pd.concat(train, ignore_index=True), pd.concat(heldout, ignore_index=True)


def training_prompts(metrics_file: Path) -> frozenset[str]:
    """Prompts an organism was trained on, regenerated from its `metrics.json` (empty if absent)."""
    if not metrics_file.is_file():
        return frozenset()
    metrics = json.loads(metrics_file.read_text())
    stored = metrics["recipe"]
    recipe = Recipe(
        families=tuple(stored["families"]),
        n_train_per_family=stored["n_train_per_family"],
        n_heldout_per_family=stored["n_heldout_per_family"],
    )
    train, _ = build_item_sets(recipe, metrics["seed"])
    return frozenset(train["prompt"])


def human_items(families: tuple[str, ...], n_per_task: int | None = None) -> pd.DataFrame:
    """The built-in human-normed items of `families` (the real test of the organism).

    `n_per_task` keeps the first items of each task (quick runs); None keeps all of them.
    """
    from data.tasks import list_tasks, load_task

    tasks = list_tasks()
    names = tasks.loc[tasks["family"].isin(families), "name"].tolist()
    tables = [load_task(name) for name in names]
    if n_per_task is not None:
        tables = [table.head(n_per_task) for table in tables]
    return pd.concat(tables, ignore_index=True)


def scratchpad_examples(table: pd.DataFrame) -> list[dict]:
    """prompt / scratchpad completion / answer dicts from an item table with a `steps` column."""
    return [
        {
            "prompt": row.prompt,
            "completion": format_scratchpad(json.loads(row.steps), row.answer),
            "answer": row.answer,
        }
        for row in table.itertuples()
    ]


def _save(model, tokenizer, log: list[dict], directory: Path) -> None:
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    pd.DataFrame(log).to_csv(directory / "training_log.csv", index=False)


def _evaluate(model, tokenizer, items: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    return summarise(score_items(model, tokenizer, items, max_new_tokens=recipe.max_new_tokens))


def train_organism(
    out_dir: str | Path,
    *,
    seed: int = 0,
    recipe: Recipe = FULL,
    command: str = "",
    progress: Progress | None = None,
) -> dict:
    """Train teacher and base from scratch and write them to `out_dir`; return the metrics."""
    import torch

    say = progress or (lambda message: None)
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
    examples = scratchpad_examples(train_items)
    texts = [e["prompt"] + e["completion"] for e in examples]
    tokenizer = build_organism_tokenizer(
        [*texts, *human["prompt"], *human["answer"], *heldout["prompt"], *heldout["answer"]]
    )
    clock = phase_done("data", clock)

    metrics: dict = {"seed": seed, "recipe": recipe.as_dict(), "vocab_size": len(tokenizer)}
    metrics["unknown_word_rate_human"] = unknown_word_rate(tokenizer, human["prompt"])
    with atomic_dir(out_dir) as tmp, tempfile.TemporaryDirectory() as work:
        say("teacher: supervised warm start on scratchpads")
        teacher = new_model(tokenizer, recipe.teacher_size, seed)
        curve: list[dict] = []
        report = _sft_progress(say, "teacher")
        if recipe.sft_eval_every:
            report = _with_heldout_curve(report, teacher, tokenizer, heldout, recipe, curve, say)
        sft_log = supervised_finetune(
            teacher,
            tokenizer,
            examples,
            recipe.teacher_sft,
            seed=seed,
            work_dir=work,
            on_log=report,
        )
        metrics["teacher_sft_curve"] = curve
        clock = phase_done("teacher_sft", clock)
        metrics["teacher_after_sft_heldout"] = _records(
            _evaluate(teacher, tokenizer, heldout, recipe)
        )
        clock = phase_done("eval_after_sft", clock)

        say("teacher: GRPO with a cost per reasoning token")
        rl_log = reinforce_with_length_cost(
            teacher, tokenizer, examples, recipe.rl, seed=seed, work_dir=work
        )
        clock = phase_done("teacher_rl", clock)
        _save(teacher, tokenizer, [*sft_log, *rl_log], tmp / "teacher")

        say("base: same task text without traces")
        base = new_model(tokenizer, recipe.base_size, seed + 1)
        base_log = train_base(base, tokenizer, examples, recipe.base_sft, seed=seed, work_dir=work)
        clock = phase_done("base_sft", clock)
        _save(base, tokenizer, base_log, tmp / "base")

        say("evaluating on held-out generated and human-normed items")
        (tmp / "eval").mkdir()
        for name, model in (("teacher", teacher), ("base", base)):
            for split, items in (("heldout", heldout), ("human", human)):
                summary = _evaluate(model, tokenizer, items, recipe)
                summary.to_csv(tmp / "eval" / f"{name}_{split}.csv", index=False)
                metrics[f"{name}_{split}"] = _records(summary)
        clock = phase_done("eval", clock)
        timings["total"] = round(time.perf_counter() - started, 1)
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
            f"teacher sft step {row['step']}: held-out accuracy {point['accuracy']:.3f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in point.items() if k.startswith("gen_"))
            + ")"
        )

    return report_and_evaluate


def _records(summary: pd.DataFrame) -> list[dict]:
    """Summary rows as JSON-safe dicts (NaN becomes None)."""
    return json.loads(summary.to_json(orient="records"))
