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
from mimicry.distill.config import RLConfig, resolve_config

LOG_NAME = "training_log.csv"


@dataclass(frozen=True)
class RLPrompting:
    """How the model is prompted and its completions parsed (the model's convention, as in
    generation; not a stage option)."""

    prompt_style: str = "auto"
    open_think: bool = False
    open_tag: str = "<think>"
    close_tag: str = "</think>"
    delimiter: str | None = None


class CorrectMinusCost:
    """GRPO reward: 1 for a parsed correct answer, minus `cost` per reasoning token.

    An unparsed completion earns no credit and pays for every token it generated. Follows trl's
    reward protocol `(prompts, completions, completion_ids, answer, **kw) -> list[float]`.
    """

    def __init__(self, tokenizer, cost_per_token: float, prompting: RLPrompting = RLPrompting()):
        self.tokenizer = tokenizer
        self.cost = cost_per_token
        self.prompting = prompting
        self.__name__ = "correct_minus_cost"

    def score(self, text: str, completion_ids: Sequence[int], gold: str) -> float:
        how = self.prompting
        prefix = how.open_tag if how.open_think else ""
        parsed = split_generation(prefix + text, how.open_tag, how.close_tag, how.delimiter)
        if not parsed.ok:
            return -self.cost * len(completion_ids)
        n_tokens = len(self.tokenizer(parsed.reasoning, add_special_tokens=False)["input_ids"])
        return float(answers_match(parsed.answer, gold)) - self.cost * n_tokens

    def __call__(self, prompts, completions, completion_ids, answer, **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [
            self.score(text, ids, str(gold))
            for text, ids, gold in zip(texts, completion_ids, answer, strict=True)
        ]


def prompt_rows(items: pd.DataFrame, tokenizer, prompting: RLPrompting) -> list[dict]:
    """trl prompt rows in the style generation uses (plain text, or one user turn)."""
    from mimicry.distill.backends.prompting import render_prompt, resolve_style

    style = resolve_style(tokenizer, prompting.prompt_style)
    rows = []
    for item in items.itertuples():
        if style == "chat":
            prompt = [{"role": "user", "content": str(item.prompt)}]
        else:
            prompt = render_prompt(
                tokenizer,
                str(item.prompt),
                style,
                open_think=prompting.open_think,
                open_tag=prompting.open_tag,
            )
        rows.append({"prompt": prompt, "answer": str(item.answer)})
    if not rows:
        raise InputError("no items to train on")
    return rows


def reinforce(
    model,
    tokenizer,
    items: pd.DataFrame,
    options: RLConfig,
    *,
    work_dir,
    prompting: RLPrompting = RLPrompting(),
    progress=None,
):
    """GRPO on `model` in place (a PEFT-wrapped model when LoRA); returns (model, log rows)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mimicry.distill.trainer_args import QUIET_TRAINER_ARGS, without_printer

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
        learning_rate=options.lr,
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
        reward_funcs=[CorrectMinusCost(tokenizer, options.cost_per_token, prompting)],
        args=config,
        train_dataset=Dataset.from_list(prompt_rows(items, tokenizer, prompting)),
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
    *,
    config: RLConfig | None = None,
    prompting: RLPrompting = RLPrompting(),
    trust_remote_code: bool = False,
    progress=None,
    **overrides,
) -> Path:
    """Train an RL student from `student` (HF folder) on the prompts of `items_file`.

    `items_file`: an item table (CSV) with `prompt` and `answer`; every row is a training prompt.
    `config`: the GRPO options (default `RLConfig()`); keyword overrides of its fields are
    validated on top. `prompting`: the model's prompt convention, as in generation.
    Writes `out_dir` (plain HF folder + `training_log.csv` + stamp); skipped when fresh.
    """
    from mimicry.data.items import read_items
    from mimicry.probes.loading import load_causal_lm, load_tokenizer

    options = resolve_config(RLConfig, config, overrides)
    items_file = Path(items_file)
    out = Path(out_dir)
    inputs_hash = hash_inputs(
        items_file,
        model_fingerprint(student, ignore={STAMP_NAME}),
        {**options.model_dump(mode="json"), **asdict(prompting)},
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
            model,
            tokenizer,
            items,
            options,
            work_dir=staging / "work",
            prompting=prompting,
            progress=progress,
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
    write_stamp(
        out,
        inputs_hash,
        stage="distill_rl",
        options={**options.model_dump(mode="json"), **asdict(prompting)},
    )
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
