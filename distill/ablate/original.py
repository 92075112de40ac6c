"""`original`: the teacher's reasoning unchanged (the reference every other set is checked against)."""

from __future__ import annotations

from mimicry.distill.ablate.common import BuildContext, Example
from mimicry.distill.ablate.inputs import TeacherTrace

NAME = "original"
HELD_FIXED = "everything: the teacher's reasoning and answer, verbatim"
VARIED = "nothing"


def build(traces: list[TeacherTrace], context: BuildContext) -> list[Example]:
    """One example per trace, reasoning unchanged."""
    return [Example(source=t, reasoning=t.reasoning) for t in traces]
