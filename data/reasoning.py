"""Split a generation into reasoning and final answer, and compare answers leniently.

Reasoning models write `<think> ...reasoning... </think> ANSWER`; some chat templates already open
the think block in the prompt, so a generation may carry only the closing tag. Models without
think tags are parsed with a configured delimiter (e.g. "Answer:") or an answer pattern (a regular
expression such as "the answer is"): the reasoning is the text before it. A generation that cannot
be split is reported with a reason, never guessed at, so the caller can count it as an exclusion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mimicry.data.errors import InputError

# Reasons a generation does not parse (the `reason` field of ParsedGeneration).
EMPTY_GENERATION = "empty_generation"
NO_REASONING_TAGS = "no_reasoning_tags"
UNCLOSED_REASONING = "unclosed_reasoning"
MISSING_DELIMITER = "missing_delimiter"
EMPTY_REASONING = "empty_reasoning"  # used by consumers that need reasoning text
NO_ANSWER = "no_answer"  # also: the answer line is the answer marker again (a loop)

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_LABEL = re.compile(
    r"^(?:(?:so\s+|thus\s+)?the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:=]?\s*", re.I
)
_SPACED_PUNCT = re.compile(r"\s*([^\w\s])\s*")
_EDGE_PUNCT = ".,;:!?\"'`()[]{}* "


@dataclass(frozen=True)
class ParsedGeneration:
    """A generation split into its reasoning span and final answer.

    Attributes:
        reasoning: text of the reasoning span, tags removed, stripped.
        answer: the final answer (first non-empty line after the reasoning), stripped.
        ok: True when both parts were found and neither is empty.
        reason: "" when ok, otherwise why not (one of the module's reason constants).
    """

    reasoning: str
    answer: str
    ok: bool
    reason: str = ""


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _finish(reasoning: str, answer: str) -> ParsedGeneration:
    """An empty but closed reasoning span with an answer parses: the model chose to spend zero
    reasoning tokens (a base model answering at once), which is a cost, not a failure. Consumers
    that need reasoning text (ablation sets, lexicon rates) count such traces themselves."""
    reasoning, answer = reasoning.strip(), _first_line(answer)
    if not answer:
        return ParsedGeneration(reasoning, answer, False, NO_ANSWER)
    return ParsedGeneration(reasoning, answer, True, "")


def split_generation(
    text: str,
    open_tag: str = "<think>",
    close_tag: str = "</think>",
    delimiter: str | None = None,
    answer_pattern: str | None = None,
) -> ParsedGeneration:
    """Split `text` into reasoning and answer.

    With `delimiter` (a literal string) or `answer_pattern` (a regular expression, matched without
    regard to case), the reasoning is everything before its first occurrence and the answer the
    first non-empty line after it (the rest of the marker's line when it holds text). Otherwise the reasoning is the span between `open_tag` and `close_tag`
    (or everything before `close_tag` when the prompt already opened the block) and the answer the
    first non-empty line after `close_tag`.
    """
    if not text or not text.strip():
        return ParsedGeneration("", "", False, EMPTY_GENERATION)
    if delimiter is not None or answer_pattern is not None:
        if delimiter is not None:
            cut = text.find(delimiter)
            end = cut + len(delimiter)
        else:
            found = _compile(answer_pattern).search(text)
            cut, end = (found.start(), found.end()) if found else (-1, -1)
        if cut < 0:
            return ParsedGeneration(text.strip(), "", False, MISSING_DELIMITER)
        before = text[:cut]
        if open_tag and open_tag in before:
            before = before.split(open_tag, 1)[1]
        if close_tag:
            before = before.replace(close_tag, " ")
        parsed = _finish(before, text[end:])
        if parsed.ok and _repeats_marker(parsed.answer, delimiter, answer_pattern):
            # "The answer is: The answer is: ..." is a loop, not an answer
            return ParsedGeneration(parsed.reasoning, "", False, NO_ANSWER)
        return parsed
    close = text.find(close_tag)
    if close < 0:
        opened = text.find(open_tag)
        if opened < 0:
            return ParsedGeneration("", _first_line(text), False, NO_REASONING_TAGS)
        return ParsedGeneration(
            text[opened + len(open_tag) :].strip(), "", False, UNCLOSED_REASONING
        )
    before = text[:close]
    opened = before.find(open_tag)
    if opened >= 0:
        before = before[opened + len(open_tag) :]
    return _finish(before, text[close + len(close_tag) :])


def _repeats_marker(answer: str, delimiter: str | None, pattern: str | None) -> bool:
    """Whether the answer line starts with the answer marker again (a marker that matches no
    text, such as a lookahead, never repeats)."""
    if delimiter is not None:
        return bool(delimiter) and answer.startswith(delimiter)
    found = _compile(pattern).match(answer)
    return found is not None and found.end() > 0


def _compile(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise InputError(
            f"answer pattern {pattern!r} is not a regular expression: {error}",
            field="answer_pattern",
        ) from None


def normalise_answer(answer: str) -> str:
    """Canonical form of an answer: boxed content, no 'answer:' label, lower case, single spaces,
    no spaces around punctuation (word tokenizers decode 'north-east' as 'north - east'), no
    punctuation at either end."""
    text = str(answer).strip()
    boxed = _BOXED.findall(text)
    if boxed:
        text = boxed[-1]
    text = _ANSWER_LABEL.sub("", text.strip())
    text = " ".join(text.lower().split())
    text = _SPACED_PUNCT.sub(r"\1", text)
    return text.strip(_EDGE_PUNCT)


def answers_match(predicted: str, gold: str) -> bool:
    """True when the answers are equal after normalisation (case, whitespace, edge punctuation)."""
    left, right = normalise_answer(predicted), normalise_answer(gold)
    return bool(right) and left == right
