"""Completions in the organism's output format: `<think> step ; step </think> ANSWER` then eos.

The teacher writes one short step per line of the family's derivation, so the number of reasoning
tokens is a direct readout of the work it did; the base rereads its premises first; all share
one format that `data.reasoning.split_generation`-style parsers accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mimicry.distill.word_tokenizer import THINK_CLOSE, THINK_OPEN, words_of

STEP_SEPARATOR = ";"


def format_scratchpad(steps: Sequence[str], answer: str) -> str:
    """The teacher's target completion: every step inside the think block, then the answer.

    Starts with a space so that `prompt + completion` tokenizes as the two parts do alone.
    """
    body = f" {STEP_SEPARATOR} ".join(" ".join(step.split()) for step in steps)
    return f" {THINK_OPEN} {body} {THINK_CLOSE} {answer}"


def premise_sentences(prompt: str) -> list[str]:
    """The premises of a family prompt (`S1. S2. Question: ...`), one sentence each."""
    head = prompt.split("Question:")[0]
    return [" ".join(s.split()) for s in head.split(".") if s.strip()]


def format_verbose(prompt: str, steps: Sequence[str], answer: str, passes: int) -> str:
    """A scratchpad that first writes every premise out again, `passes` times, then derives.

    The rereading changes nothing the derivation needs; it is a format that costs tokens in
    proportion to the prompt's surface (its premises), not to the work. Each restated premise is
    labelled with its pass number (`1 : A is to the left of B`), so the first reasoning token
    tells a rereading policy (`1`) from a minimal one (the first derivation word).
    """
    restated = [
        f"{number} : {sentence}"
        for number in range(1, passes + 1)
        for sentence in premise_sentences(prompt)
    ]
    return format_scratchpad([*restated, *steps], answer)


@dataclass(frozen=True)
class ParsedCompletion:
    """A generated completion split into reasoning and answer; `ok` is False when malformed."""

    reasoning: str
    answer: str
    ok: bool


def parse_completion(text: str) -> ParsedCompletion:
    """Split `<think> reasoning </think> answer`; a missing closing tag makes it malformed."""
    start = text.find(THINK_OPEN)
    end = text.find(THINK_CLOSE)
    if start < 0 or end < start:
        return ParsedCompletion(reasoning="", answer="", ok=False)
    reasoning = text[start + len(THINK_OPEN) : end].strip()
    answer = text[end + len(THINK_CLOSE) :].strip()
    return ParsedCompletion(reasoning=reasoning, answer=answer, ok=bool(answer))


def normalise_answer(text: str) -> tuple[str, ...]:
    """Answer words, lower-cased; word tokenizers decode `north-east` as `north - east`."""
    return tuple(w.lower() for w in words_of(text) if w not in {".", "!"})


def answer_is_correct(predicted: str, gold: str) -> bool:
    """Compare answers word by word, ignoring case, spacing and a trailing full stop."""
    return bool(normalise_answer(gold)) and normalise_answer(predicted) == normalise_answer(gold)
