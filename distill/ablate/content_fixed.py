"""`content_fixed_format_varied`: the same steps in another surface form.

Fillers and self-prompts ("wait", "hmm", "let me") are removed, connectives and hedges are swapped
for others of the same role ("so" -> "therefore", "maybe" -> "perhaps"; `data/lexicons/`), step
markers change style ("Step 2:" <-> "2.") and step separators switch between spaces and line
breaks. Content words (everything that is not a lexicon phrase, marker or punctuation) are left
as they are, in order; `checks` verifies that they equal the original's, trace by trace.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mimicry.distill.ablate.common import BuildContext, Example
from mimicry.distill.ablate.inputs import TeacherTrace
from mimicry.distill.ablate.steps import Step, join_steps, split_steps
from mimicry.distill.lexicon import load_lexicons, load_rephrasings

NAME = "content_fixed_format_varied"
HELD_FIXED = "content: the content words of every step, in order, and the final answer"
VARIED = "surface form: fillers/self-prompts removed, connectives and hedges rephrased, step marker style and separators changed"
_STEP_MARKER = re.compile(r"^step\s*(\d+)\s*[:.)]\s*$", re.IGNORECASE)
_NUMBER_MARKER = re.compile(r"^(\d+)\s*[.)]\s*$")


def _alternation(phrases) -> str:
    ordered = sorted(phrases, key=len, reverse=True)
    return "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern, dict[str, str]]:
    fillers = load_lexicons()["fillers"]
    table = load_rephrasings()
    remove = re.compile(rf"\b(?:{_alternation(fillers)})\b\s*[,.!]?\s*", re.IGNORECASE)
    swap = re.compile(rf"\b(?:{_alternation(table)})\b", re.IGNORECASE)
    return remove, swap, table


def _keep_case(source: str, target: str) -> str:
    return target[:1].upper() + target[1:] if source[:1].isupper() else target


def rephrase_body(body: str) -> str:
    """Remove fillers and swap connectives/hedges in one step body."""
    remove, swap, table = _patterns()
    stripped = remove.sub("", body)
    stripped = re.sub(r"^[\s,;:]+", "", stripped)
    if stripped and body[:1].isupper() and stripped[:1].islower():
        stripped = stripped[:1].upper() + stripped[1:]
    swapped = swap.sub(
        lambda m: _keep_case(m.group(), table[" ".join(m.group().lower().split())]), stripped
    )
    return " ".join(swapped.split())


def _restyle_marker(marker: str) -> str:
    core = marker.strip()
    if match := _STEP_MARKER.match(core):
        return f"{match.group(1)}. "
    if match := _NUMBER_MARKER.match(core):
        return f"Step {match.group(1)}: "
    if core in ("-", "*", "\u2022"):
        return "* " if core != "*" else "- "
    return marker


def _restyle_separator(separator: str) -> str:
    if not separator:
        return separator
    return " " if "\n" in separator else "\n"


def _has_words(text: str) -> bool:
    return bool(re.search(r"\w", text))


def build(traces: list[TeacherTrace], context: BuildContext) -> list[Example]:
    """One surface-varied example per trace that keeps any content."""
    examples = []
    for trace in traces:
        new_steps = []
        for step in split_steps(trace.reasoning):
            body = rephrase_body(step.body)
            if not _has_words(body):
                continue
            new_steps.append(
                Step(
                    marker=_restyle_marker(step.marker),
                    body=body,
                    separator=_restyle_separator(step.separator),
                )
            )
        if not new_steps:
            context.exclude(trace, "no_content_left")
            continue
        new_steps[-1] = Step(new_steps[-1].marker, new_steps[-1].body, "")
        examples.append(Example(source=trace, reasoning=join_steps(new_steps)))
    return examples
