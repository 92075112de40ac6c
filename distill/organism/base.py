"""The base: the student architecture trained on the same task text without traces.

Choice (documented in the weights card): the base learns `prompt -> <think> </think> ANSWER`, an
empty think block, not a bare answer. The output format is then the teacher's, so the same parser
reads both, and distillation changes only what goes inside the block. Its reasoning length is
constant (0), so a length-difficulty correlation is undefined for it by construction; what the
base contributes is accuracy and the activations of a model that solved the tasks without traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from distill.organism.scratchpad import format_no_trace
from distill.organism.teacher_sft import SFTSettings, supervised_finetune


def no_trace_examples(examples: Sequence[dict]) -> list[dict]:
    """The teacher's training items with their traces removed: prompt -> empty think + answer."""
    return [{"prompt": e["prompt"], "completion": format_no_trace(e["answer"])} for e in examples]


def train_base(
    model,
    tokenizer,
    examples: Sequence[dict],
    settings: SFTSettings,
    *,
    seed: int,
    work_dir: str | Path,
) -> list[dict]:
    """Train `model` in place on trace-free completions of `examples`; return the trainer log."""
    return supervised_finetune(
        model, tokenizer, no_trace_examples(examples), settings, seed=seed, work_dir=work_dir
    )
