"""Supervised warm start: a lean seeded torch loop on prompt/completion pairs, loss on the completion.

GRPO from random init earns no reward and learns nothing, so the teacher first imitates explicit
scratchpads; the base uses the same routine on trace-free completions. A plain loop instead of
trl's SFTTrainer because the organism is tiny and trains on a CPU: per step the trainer's
overhead rivalled the model's compute, and length-bucketed batches waste less on padding. trl
stays the RL phase's trainer (`teacher_rl`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Batches are drawn from shuffled pools of this many batches, sorted by length inside the pool:
# similar lengths share a batch (little padding) while the order stays random.
_POOL_BATCHES = 50


@dataclass(frozen=True)
class SFTSettings:
    """Optimisation settings for one supervised phase (AdamW, linear warmup, cosine decay)."""

    epochs: float = 3.0
    learning_rate: float = 3e-3
    batch_size: int = 32
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_length: int = 256
    logging_steps: int = 10
    max_grad_norm: float = 1.0


def _tokenize(tokenizer, example: dict, max_length: int) -> tuple[list[int], list[int], bool]:
    """Input ids (bos + prompt + completion + eos), labels (-100 on the prompt), truncated flag."""
    prompt = tokenizer(example["prompt"])["input_ids"]
    completion = tokenizer(example["completion"], add_special_tokens=False)["input_ids"]
    ids = [*prompt, *completion, tokenizer.eos_token_id]
    labels = [-100] * len(prompt) + [*completion, tokenizer.eos_token_id]
    return ids[:max_length], labels[:max_length], len(ids) > max_length


def _epoch_batches(lengths: Sequence[int], batch_size: int, generator) -> list[list[int]]:
    """One epoch of index batches: shuffled, length-bucketed within pools, batches shuffled."""
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * _POOL_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def _collate(sequences, batch: Sequence[int], pad_id: int):
    """Right-padded input ids, attention mask and labels for one batch."""
    import torch

    width = max(len(sequences[i][0]) for i in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, index in enumerate(batch):
        seq_ids, seq_labels, _ = sequences[index]
        ids[row, : len(seq_ids)] = torch.tensor(seq_ids)
        labels[row, : len(seq_labels)] = torch.tensor(seq_labels)
        mask[row, : len(seq_ids)] = 1
    return ids, mask, labels


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup to 1, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def supervised_finetune(
    model,
    tokenizer,
    examples: Sequence[dict],
    settings: SFTSettings,
    *,
    seed: int,
    work_dir: str | Path,
    on_log: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train `model` in place on `examples` (dicts with `prompt` and `completion`); return the log.

    Completions should end without eos: it is appended here. Deterministic given `seed`.
    `work_dir` is accepted for symmetry with the RL phase; nothing is written there. Log rows:
    step, epoch, loss and token accuracy (means over the logging window), learning rate; the
    last row holds the run's totals, including how many sequences were truncated. `on_log`
    receives each row as it is written (progress of long runs).
    """
    import torch

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    sequences = [_tokenize(tokenizer, e, settings.max_length) for e in examples]
    lengths = [len(ids) for ids, _, _ in sequences]
    steps_per_epoch = math.ceil(len(sequences) / settings.batch_size)
    total_steps = max(1, round(settings.epochs * steps_per_epoch))
    warmup = max(1, round(settings.warmup_ratio * total_steps))
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=settings.learning_rate,
        betas=(0.9, 0.98),
        weight_decay=settings.weight_decay,
    )
    log: list[dict] = []
    window_loss = window_correct = window_tokens = 0.0
    window_steps = 0
    started = time.perf_counter()
    model.train()
    batches: list[list[int]] = []
    for step in range(total_steps):
        if not batches:
            batches = _epoch_batches(lengths, settings.batch_size, generator)
        ids, mask, labels = _collate(sequences, batches.pop(0), tokenizer.pad_token_id)
        learning_rate = settings.learning_rate * _lr_factor(step, total_steps, warmup)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        output = model(input_ids=ids, attention_mask=mask, labels=labels)
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            targets = labels[:, 1:]
            scored = targets != -100
            predicted = output.logits[:, :-1].argmax(-1)
            window_correct += float((predicted[scored] == targets[scored]).sum())
            window_tokens += float(scored.sum())
        window_loss += float(output.loss.detach())
        window_steps += 1
        if (step + 1) % settings.logging_steps == 0 or step + 1 == total_steps:
            log.append(
                {
                    "step": step + 1,
                    "epoch": round((step + 1) / steps_per_epoch, 3),
                    "loss": window_loss / window_steps,
                    "mean_token_accuracy": window_correct / max(1.0, window_tokens),
                    "learning_rate": learning_rate,
                }
            )
            if on_log is not None:
                on_log(log[-1])
            window_loss = window_correct = window_tokens = 0.0
            window_steps = 0
    log.append(
        {
            "step": total_steps,
            "train_runtime": round(time.perf_counter() - started, 1),
            "train_steps": total_steps,
            "n_sequences": len(sequences),
            "n_truncated": sum(1 for _, _, cut in sequences if cut),
        }
    )
    model.eval()
    return log
