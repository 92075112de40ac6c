"""RL students: GRPO (trl) on a model with the teacher's reward, no traces.

The reward is the organism teacher's: 1 for a parsed, correct answer, minus a cost per reasoning
token (counted with the model's own tokenizer on the parsed reasoning span, as the generate stage
counts it). Two conditions use it: `rl` (the base trained by GRPO alone) and `sft_then_rl`
(the `original` SFT student followed by the same GRPO). Full fine-tuning or LoRA (merged on save),
on any HF causal LM. The finished student is a plain HF folder with `training_log.csv`; a re-run
with the same inputs is skipped (stamp), and a killed run starts the phase afresh (GRPO runs are
short: trl's checkpoints store optimizer state with pickle, which this suite never loads).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.fileio import (
    STAMP_NAME,
    atomic_file,
    hash_inputs,
    is_fresh,
    model_fingerprint,
    write_stamp,
)
from mimicry.data.reasoning import answers_match, split_generation

LOG_NAME = "training_log.csv"


@dataclass(frozen=True)
class RLOptions:
    """GRPO options (hashed: a change trains afresh)."""

    max_steps: int = 60
    lr: float | None = None
    batch_size: int = 16
    num_generations: int = 4
    max_completion_length: int = 256
    temperature: float = 1.0
    cost_per_token: float = 0.004
    beta: float = 0.0
    lora: bool = False
    lora_r: int = 8
    seed: int = 0
    prompt_style: str = "auto"
    open_think: bool = False
    open_tag: str = "<think>"
    close_tag: str = "</think>"
    delimiter: str | None = None

    @property
    def learning_rate(self) -> float:
        """Given lr, else 1e-4 for LoRA and 2e-5 for full fine-tuning."""
        if self.lr is not None:
            return self.lr
        return 1e-4 if self.lora else 2e-5

    def validate(self) -> None:
        for name in ("max_steps", "batch_size", "num_generations", "max_completion_length"):
            if getattr(self, name) < 1:
                raise InputError(f"must be >= 1, got {getattr(self, name)}", field=name)
        if self.num_generations < 2:
            raise InputError("GRPO compares completions: needs >= 2", field="num_generations")
        if self.batch_size % self.num_generations:
            raise InputError(
                f"batch_size {self.batch_size} must be a multiple of num_generations "
                f"{self.num_generations} (GRPO groups)",
                field="batch_size",
            )
        if self.cost_per_token < 0 or self.temperature <= 0:
            raise InputError("cost_per_token must be >= 0 and temperature > 0", field="rl")
        if self.lr is not None and not self.lr > 0:
            raise InputError(f"must be > 0, got {self.lr}", field="lr")


class CorrectMinusCost:
    """GRPO reward: 1 for a parsed correct answer, minus `cost` per reasoning token.

    An unparsed completion earns no credit and pays for every token it generated. Follows trl's
    reward protocol `(prompts, completions, completion_ids, answer, **kw) -> list[float]`.
    """

    def __init__(self, tokenizer, options: RLOptions):
        self.tokenizer = tokenizer
        self.options = options
        self.__name__ = "correct_minus_cost"

    def score(self, text: str, completion_ids: Sequence[int], gold: str) -> float:
        options = self.options
        prefix = options.open_tag if options.open_think else ""
        parsed = split_generation(
            prefix + text, options.open_tag, options.close_tag, options.delimiter
        )
        if not parsed.ok:
            return -options.cost_per_token * len(completion_ids)
        n_tokens = len(self.tokenizer(parsed.reasoning, add_special_tokens=False)["input_ids"])
        return float(answers_match(parsed.answer, gold)) - options.cost_per_token * n_tokens

    def __call__(self, prompts, completions, completion_ids, answer, **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [
            self.score(text, ids, str(gold))
            for text, ids, gold in zip(texts, completion_ids, answer, strict=True)
        ]


def prompt_rows(items: pd.DataFrame, tokenizer, options: RLOptions) -> list[dict]:
    """trl prompt rows in the style generation uses (plain text, or one user turn)."""
    from mimicry.distill.backends.prompting import render_prompt, resolve_style

    style = resolve_style(tokenizer, options.prompt_style)
    rows = []
    for item in items.itertuples():
        if style == "chat":
            prompt = [{"role": "user", "content": str(item.prompt)}]
        else:
            prompt = render_prompt(
                tokenizer,
                str(item.prompt),
                style,
                open_think=options.open_think,
                open_tag=options.open_tag,
            )
        rows.append({"prompt": prompt, "answer": str(item.answer)})
    if not rows:
        raise InputError("no items to train on")
    return rows


def reinforce(
    model, tokenizer, items: pd.DataFrame, options: RLOptions, *, work_dir, progress=None
):
    """GRPO on `model` in place (a PEFT-wrapped model when LoRA); returns (model, log rows)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mimicry.distill.trainer_args import QUIET_TRAINER_ARGS, without_printer

    options.validate()

    class _Report(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if progress is not None and logs and "reward" in logs:
                progress(state.global_step, options.max_steps)

    config = GRPOConfig(
        **QUIET_TRAINER_ARGS,
        output_dir=str(work_dir),
        use_cpu=True,
        bf16=False,
        fp16=False,
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        per_device_train_batch_size=options.batch_size,
        num_generations=options.num_generations,
        max_completion_length=options.max_completion_length,
        temperature=options.temperature,
        top_k=0,
        beta=options.beta,
        logging_steps=max(1, min(10, options.max_steps // 5)),
        save_strategy="no",
        seed=options.seed,
        data_seed=options.seed,
        dataloader_num_workers=0,
    )
    peft_config = None
    if options.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=options.lora_r,
            lora_alpha=2 * options.lora_r,
            target_modules="all-linear",
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
        )
    model.train()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[CorrectMinusCost(tokenizer, options)],
        args=config,
        train_dataset=Dataset.from_list(prompt_rows(items, tokenizer, options)),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_Report()],
    )
    without_printer(trainer).train()
    trained = trainer.model
    if options.lora:
        trained = trained.merge_and_unload()
    return trained.eval(), [dict(row) for row in trainer.state.log_history]


def train_rl_student(
    student,
    items_file,
    out_dir,
    options: RLOptions = RLOptions(),
    *,
    trust_remote_code: bool = False,
    progress=None,
) -> Path:
    """Train an RL student from `student` (HF folder) on the prompts of `items_file`.

    `items_file`: an item table (CSV) with `prompt` and `answer`; every row is a training prompt.
    Writes `out_dir` (plain HF folder + `training_log.csv` + stamp); skipped when fresh.
    """
    from mimicry.data.items import read_items
    from mimicry.probes.loading import load_causal_lm, load_tokenizer

    options.validate()
    items_file = Path(items_file)
    out = Path(out_dir)
    inputs_hash = hash_inputs(
        items_file, model_fingerprint(student, ignore={STAMP_NAME}), asdict(options)
    )
    if is_fresh(out, inputs_hash):
        return out
    items = read_items(items_file)
    tokenizer = load_tokenizer(student, trust_remote_code=trust_remote_code)
    model = load_causal_lm(student, trust_remote_code=trust_remote_code)
    staging = out.with_name(f".{out.name}.rl-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        trained, log = reinforce(
            model, tokenizer, items, options, work_dir=staging / "work", progress=progress
        )
        shutil.rmtree(staging / "work", ignore_errors=True)
        trained.save_pretrained(staging, safe_serialization=True)
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(staging)
        _write_log(log, staging / LOG_NAME)
        out.mkdir(parents=True, exist_ok=True)
        for path in staging.iterdir():
            path.replace(out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_stamp(out, inputs_hash, stage="distill_rl", options=asdict(options))
    return out


def _write_log(history: list[dict], path: Path) -> None:
    columns = ["step", "reward", "reward_std", "completions/mean_length", "loss", "entropy"]
    with atomic_file(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["step", "reward", "reward_std", "mean_completion_length", "loss", "entropy"]
        )
        for entry in history:
            if "reward" in entry:
                writer.writerow([entry.get(c) for c in columns])
