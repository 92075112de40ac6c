"""Reasoning as a sequence of steps, split losslessly so ablations can swap or rephrase one part.

The organism writes short regular sentences ("A left of B and B left of C so A left of C ."),
the organism's scratchpad joins steps with " ; ", real reasoning models write free text with
newlines and "wait"/"hmm"; all split into steps at sentence or clause ends (., !, ?, ; followed by
whitespace) and at line breaks. A step keeps its leading marker
("Step 2:", "3.", "-"), its body and the whitespace after it, so `join_steps(split_steps(t)) == t`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_BOUNDARY = re.compile(r"(?<=[.!?;])[ \t]+|[ \t]*\n\s*")
_MARKER = re.compile(r"^(?:step\s*\d+\s*[:.)]|\d+\s*[.)]|[-*\u2022])\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    """One reasoning step: `marker` + `body` + `separator` is its exact text."""

    marker: str
    body: str
    separator: str

    @property
    def text(self) -> str:
        return self.marker + self.body + self.separator

    def with_body(self, body: str) -> Step:
        return replace(self, body=body)


def split_steps(text: str) -> list[Step]:
    """Split reasoning text into steps (empty text -> no steps)."""
    steps: list[Step] = []
    position = 0
    for boundary in _BOUNDARY.finditer(text):
        if boundary.start() > position:
            steps.append(_make_step(text[position : boundary.start()], boundary.group()))
        elif steps:
            last = steps[-1]
            steps[-1] = replace(last, separator=last.separator + boundary.group())
        position = boundary.end()
    if position < len(text):
        steps.append(_make_step(text[position:], ""))
    return steps


def _make_step(chunk: str, separator: str) -> Step:
    match = _MARKER.match(chunk)
    marker = match.group() if match and match.end() < len(chunk) else ""
    return Step(marker=marker, body=chunk[len(marker) :], separator=separator)


def join_steps(steps: list[Step]) -> str:
    """Inverse of split_steps."""
    return "".join(step.text for step in steps)


def step_starts(steps: list[Step]) -> list[int]:
    """Character offset at which each step starts in the joined text."""
    starts, position = [], 0
    for step in steps:
        starts.append(position)
        position += len(step.text)
    return starts
