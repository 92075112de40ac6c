"""The organism's tokenizer: one word-level vocabulary over every text of the task families.

Teacher, base and students share it, so token counts (the reasoning cost) are comparable across
models, and it covers the human-normed items as well as the generated ones, so the real items
never hit `<unk>`.
"""

from __future__ import annotations

from collections.abc import Iterable

from transformers import PreTrainedTokenizerFast

from mimicry.distill.organism.scratchpad import STEP_SEPARATOR
from mimicry.distill.word_tokenizer import build_word_tokenizer


def build_organism_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Word tokenizer over `texts` plus the scratchpad's step separator (deterministic ids)."""
    return build_word_tokenizer(texts, extra_words=(STEP_SEPARATOR,))


def unknown_word_rate(tokenizer: PreTrainedTokenizerFast, texts: Iterable[str]) -> float:
    """Fraction of tokens of `texts` that map to `<unk>` (0 for a covering vocabulary)."""
    total = unknown = 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        total += len(ids)
        unknown += sum(1 for i in ids if i == tokenizer.unk_token_id)
    return unknown / total if total else 0.0
