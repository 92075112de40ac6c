"""Supervised warm start: trl's SFTTrainer on prompt/completion pairs, loss on the completion only.

GRPO from random init earns no reward and learns nothing, so the teacher first imitates explicit
scratchpads; the base uses the same routine on trace-free completions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SFTSettings:
    """Optimisation settings for one supervised phase."""

    epochs: float = 3.0
    learning_rate: float = 3e-3
    batch_size: int = 32
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_length: int = 256
    logging_steps: int = 10


def supervised_finetune(
    model,
    tokenizer,
    examples: Sequence[dict],
    settings: SFTSettings,
    *,
    seed: int,
    work_dir: str | Path,
) -> list[dict]:
    """Train `model` in place on `examples` (dicts with `prompt` and `completion`); return the log.

    Completions should end without eos: the trainer appends the tokenizer's eos token.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    dataset = Dataset.from_list(
        [{"prompt": e["prompt"], "completion": e["completion"]} for e in examples]
    )
    config = SFTConfig(
        output_dir=str(work_dir),
        use_cpu=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        report_to="none",
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size,
        lr_scheduler_type="cosine",
        warmup_steps=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        max_length=settings.max_length,
        logging_steps=settings.logging_steps,
        save_strategy="no",
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    trainer.train()
    model.eval()
    return [dict(row) for row in trainer.state.log_history]
