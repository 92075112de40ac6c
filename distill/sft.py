"""SFT students: fine-tune a model on one ablation set with trl's SFTTrainer.

The loss covers the completion only (`<think> reasoning </think> answer` + eos), never the prompt.
Full fine-tuning or LoRA (merged into the weights on save, so every student is a plain HF folder).
Trainer checkpoints live in `STUDENT_DIR/.checkpoints` so a killed run resumes from the last
complete one (a checkpoint a kill left half-written is removed first); they are removed once the student, its tokenizer and `training_log.csv` (step, epoch, loss, lr)
are saved. A re-run with the same inputs is skipped.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.fileio import (
    STAMP_NAME,
    atomic_file,
    hash_inputs,
    is_fresh,
    model_fingerprint,
    write_json,
    write_stamp,
)
from mimicry.data.textfile import parse_json_object, read_utf8
from mimicry.distill.checkpoint_files import drop_incomplete_checkpoints
from mimicry.distill.config import SFTConfig, resolve_config

CHECKPOINT_DIR = ".checkpoints"
LOG_NAME = "training_log.csv"
_RUN_RECORD = "run.json"


@dataclass
class TrainSummary:
    """What a training run did."""

    out_dir: Path
    n_examples: int = 0
    steps: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    resumed_from_step: int = 0
    skipped: bool = False


def read_sft_examples(path: Path) -> list[dict]:
    """Validated (item_id, prompt, completion) rows of a train.jsonl."""
    if not path.is_file():
        raise InputError("training file not found (expected DIR/<set>/train.jsonl)", file=path)
    rows = []
    for number, line in enumerate(read_utf8(path).splitlines(), start=1):
        if not line.strip():
            continue
        obj = parse_json_object(line, path, number)
        for name in ("item_id", "prompt", "completion"):
            value = obj.get(name)
            if not isinstance(value, str | int) or not str(value).strip():
                raise InputError("missing or empty", file=path, row=number, field=name)
        rows.append({k: str(obj[k]) for k in ("item_id", "prompt", "completion")})
    if not rows:
        raise InputError("no training examples", file=path)
    return rows


def _train_file(data) -> Path:
    data = Path(data)
    return data / "train.jsonl" if data.is_dir() else data


def to_dataset_rows(
    rows: list[dict], style: str, *, open_think: bool = False, open_tag: str = "<think>"
) -> list[dict]:
    """prompt/completion rows in trl's plain or conversational form (see backends.prompting);
    with `open_think` the open tag moves from the completion to the end of a plain prompt, as in
    generation."""
    from mimicry.distill.backends.prompting import PLAIN_SEPARATOR

    if open_think and style == "plain":
        return [
            {
                "prompt": f"{r['prompt']}{PLAIN_SEPARATOR}{open_tag}",
                "completion": PLAIN_SEPARATOR + r["completion"].removeprefix(open_tag).lstrip(),
            }
            for r in rows
        ]

    if style == "chat":
        return [
            {
                "prompt": [{"role": "user", "content": r["prompt"]}],
                "completion": [{"role": "assistant", "content": r["completion"]}],
            }
            for r in rows
        ]
    return [{"prompt": r["prompt"], "completion": PLAIN_SEPARATOR + r["completion"]} for r in rows]


def train_student(
    student,
    data,
    out_dir,
    *,
    config: SFTConfig | None = None,
    prompt_style: str = "auto",
    open_think: bool = False,
    open_tag: str = "<think>",
    trust_remote_code: bool = False,
    callbacks: Sequence = (),
    show_progress: bool = False,
    **overrides,
) -> TrainSummary:
    """Distil a student from one ablation set.

    Args:
        student: HF folder (or hub name) of the model to fine-tune.
        data: an ablation set folder (with train.jsonl) or the train.jsonl itself.
        out_dir: the student's HF folder (written with training_log.csv).
        config: the training options (`SFTConfig`, default `SFTConfig()`: length, learning rate,
            batch, LoRA, seed, checkpoints); keyword overrides of its fields are validated on top.
        prompt_style: 'auto' | 'chat' | 'plain', as in generation (the model's convention).
        open_think, open_tag: end plain prompts with the open tag, as in generation.
        callbacks: extra transformers TrainerCallbacks.
    """
    import torch
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig as TrlSFTConfig
    from trl import SFTTrainer

    from mimicry.distill.backends.prompting import resolve_style
    from mimicry.distill.trainer_args import QUIET_TRAINER_ARGS
    from mimicry.probes.loading import load_causal_lm, load_tokenizer

    options = resolve_config(SFTConfig, config, overrides)
    prompting = {"prompt_style": prompt_style, "open_think": open_think, "open_tag": open_tag}
    train_file = _train_file(data)
    rows = read_sft_examples(train_file)
    from mimicry.probes.loading import check_model_source

    check_model_source(student, field="student")  # before anything is written under out
    out = Path(out_dir)
    inputs_hash = hash_inputs(
        train_file,
        model_fingerprint(student, ignore={STAMP_NAME}),
        {**options.model_dump(mode="json"), **prompting},
    )
    summary = TrainSummary(out_dir=out, n_examples=len(rows))
    if is_fresh(out, inputs_hash):
        summary.skipped = True
        return _fill_from_log(summary, out / LOG_NAME)

    checkpoints = out / CHECKPOINT_DIR
    record = checkpoints / _RUN_RECORD
    if record.is_file() and json.loads(record.read_text()).get("hash") != inputs_hash:
        shutil.rmtree(checkpoints)
    (out / STAMP_NAME).unlink(missing_ok=True)
    checkpoints.mkdir(parents=True, exist_ok=True)
    write_json(record, {"hash": inputs_hash})

    tokenizer = load_tokenizer(student, trust_remote_code=trust_remote_code)
    tokenizer.padding_side = "right"
    style = resolve_style(tokenizer, prompt_style)
    model = load_causal_lm(student, trust_remote_code=trust_remote_code).train()
    cuda = torch.cuda.is_available()
    if cuda:
        model = model.to("cuda")
    trainer_config = TrlSFTConfig(
        **{**QUIET_TRAINER_ARGS, "disable_tqdm": not show_progress},
        output_dir=str(checkpoints),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        learning_rate=options.lr,
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        logging_steps=1,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=2,
        seed=options.seed,
        data_seed=options.seed,
        max_length=options.max_length,
        completion_only_loss=True,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
    )
    peft_config = None
    if options.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=options.lora_r,
            lora_alpha=options.lora_alpha or 2 * options.lora_r,
            target_modules="all-linear",
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(
        model=model,
        args=trainer_config,
        train_dataset=Dataset.from_list(
            to_dataset_rows(rows, style, open_think=open_think, open_tag=open_tag)
        ),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )
    if not show_progress:
        trainer.remove_callback(PrinterCallback)
    drop_incomplete_checkpoints(checkpoints)
    last = get_last_checkpoint(str(checkpoints))
    if last is not None:
        summary.resumed_from_step = int(Path(last).name.rsplit("-", 1)[1])
    trainer.train(resume_from_checkpoint=last)

    trained = trainer.model
    if options.lora:
        trained = trained.merge_and_unload()
    trained = trained.to("cpu").eval()
    staging = out / ".final-tmp"
    shutil.rmtree(staging, ignore_errors=True)
    trained.save_pretrained(staging, safe_serialization=True)
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(staging)
    for path in staging.iterdir():
        path.replace(out / path.name)
    staging.rmdir()
    _write_log(trainer.state.log_history, out / LOG_NAME)
    write_stamp(
        out,
        inputs_hash,
        stage="distill",
        n_examples=len(rows),
        options={**options.model_dump(mode="json"), **prompting},
    )
    shutil.rmtree(checkpoints, ignore_errors=True)
    return _fill_from_log(summary, out / LOG_NAME)


def _write_log(history: list[dict], path: Path) -> None:
    with atomic_file(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "epoch", "loss", "lr"])
        for entry in history:
            if "loss" in entry:
                writer.writerow(
                    [
                        entry.get("step"),
                        entry.get("epoch"),
                        entry["loss"],
                        entry.get("learning_rate"),
                    ]
                )


def _fill_from_log(summary: TrainSummary, log: Path) -> TrainSummary:
    with log.open() as handle:
        losses = [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(handle)]
    if losses:
        summary.steps = losses[-1][0]
        summary.first_loss, summary.last_loss = losses[0][1], losses[-1][1]
    return summary
