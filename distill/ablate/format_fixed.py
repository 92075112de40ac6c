"""`format_fixed_content_varied`: same template, step markers and token length, other content.

Each step body is replaced by a step of the same token length from another item of the same task
(first from one donor trace of similar length, then from the task's pool of steps); when no such
step exists, the step's entities and numbers are re-drawn from the task's prompts. Markers,
separators and the final (correct) answer stay. The result has the original's token length and
step start positions, item by item, and different step contents; `checks` verifies both.
"""

from __future__ import annotations

import re
from collections import defaultdict

from mimicry.distill.ablate.common import BuildContext, Example
from mimicry.distill.ablate.inputs import TeacherTrace
from mimicry.distill.ablate.steps import Step, join_steps, split_steps, step_starts
from mimicry.distill.lexicon import content_words

NAME = "format_fixed_content_varied"
HELD_FIXED = "template, step markers and separators, number of steps, token length of every step and of the trace, step start positions, final answer"
VARIED = "content: each step body comes from another item of the same task (same token length), or its entities and numbers are re-drawn"
_ENTITY = re.compile(r"\b(?:\d+(?:\.\d+)?|[A-Z][A-Za-z]*)\b")
_TERMINALS = tuple(".!?;")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+)([A-Z][A-Za-z]*)")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _fits(candidate: str, body: str) -> bool:
    """A swapped-in body must end like the one it replaces (so step boundaries stay where they
    are), differ from it, and carry content."""
    end_a, end_b = candidate.rstrip()[-1:], body.rstrip()[-1:]
    same_end = end_a == end_b or (end_a not in _TERMINALS and end_b not in _TERMINALS)
    return same_end and _norm(candidate) != _norm(body) and bool(content_words(candidate))


class _StepPool:
    """Step bodies of one task, by token length, with the item they come from."""

    def __init__(self, traces: list[TeacherTrace], context: BuildContext) -> None:
        self.by_length: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for trace in traces:
            for step in split_steps(trace.reasoning):
                self.by_length[context.measure.count(step.body)].append((trace.item_id, step.body))
        self.entities = sorted({e for t in traces for e in prompt_entities(t.prompt)})

    def draw(self, item_id: str, body: str, length: int, context: BuildContext) -> str | None:
        options = [b for i, b in self.by_length.get(length, []) if i != item_id and _fits(b, body)]
        return context.rng.choice(options) if options else None


def prompt_entities(prompt: str) -> set[str]:
    """Numbers and capitalised words of a prompt that do not merely start a sentence."""
    starters = {m.group(1) for m in _SENTENCE_START.finditer(prompt)}
    found = {m.group() for m in _ENTITY.finditer(prompt)}
    return {e for e in found if e not in starters or len(e) == 1}


def _redraw_entities(body: str, pool: _StepPool, context: BuildContext) -> str | None:
    """Replace every entity/number of `body` by another one of equal token length."""
    known = set(pool.entities)
    found = list(dict.fromkeys(m.group() for m in _ENTITY.finditer(body) if m.group() in known))
    if not found:
        return None
    mapping = {}
    for entity in found:
        length = context.measure.count(entity)
        options = [
            e for e in pool.entities if e not in found and context.measure.count(e) == length
        ]
        if not options:
            return None
        mapping[entity] = context.rng.choice(options)
    new = _ENTITY.sub(lambda m: mapping.get(m.group(), m.group()), body)
    return new if _norm(new) != _norm(body) else None


def _pick_donor(trace: TeacherTrace, others: list[TeacherTrace], context: BuildContext):
    length = context.measure.count(trace.reasoning)
    gaps = [abs(context.measure.count(o.reasoning) - length) for o in others]
    best = min(gaps)
    return context.rng.choice([o for o, g in zip(others, gaps, strict=True) if g == best])


def build(traces: list[TeacherTrace], context: BuildContext) -> list[Example]:
    """One content-varied example per trace that can be matched; the rest are counted."""
    by_task: dict[str, list[TeacherTrace]] = defaultdict(list)
    for trace in traces:
        by_task[trace.task].append(trace)
    pools = {task: _StepPool(group, context) for task, group in by_task.items()}
    examples = []
    for trace in traces:
        others = [o for o in by_task[trace.task] if o.item_id != trace.item_id]
        if not others:
            context.exclude(trace, "no_other_item_in_task")
            continue
        if not any(content_words(step.body) for step in split_steps(trace.reasoning)):
            context.exclude(trace, "no_content_steps")
            continue
        donor = _pick_donor(trace, others, context)
        new = _vary(trace, split_steps(donor.reasoning), pools[trace.task], context)
        if new is None:
            context.exclude(trace, "no_same_length_content")
            continue
        examples.append(Example(source=trace, reasoning=new, info={"donor": donor.item_id}))
    return examples


def _vary(trace, donor_steps: list[Step], pool: _StepPool, context: BuildContext) -> str | None:
    measure = context.measure
    steps = split_steps(trace.reasoning)
    new_steps = []
    for j, step in enumerate(steps):
        if not content_words(step.body):
            new_steps.append(step)  # a pure filler step is format, not content: kept
            continue
        length = measure.count(step.body)
        body = None
        if j < len(donor_steps):
            candidate = donor_steps[j].body
            if (
                measure.count(candidate) == length
                and _norm(candidate) != _norm(step.body)
                and content_words(candidate)
            ):
                body = candidate
        body = body or pool.draw(trace.item_id, step.body, length, context)
        body = body or _redraw_entities(step.body, pool, context)
        if body is None:
            return None
        new_steps.append(step.with_body(body))
    new = join_steps(new_steps)
    resplit = split_steps(new)
    same_markers = [s.marker for s in resplit] == [s.marker for s in steps]
    same_length = measure.count(new) == measure.count(trace.reasoning)
    same_starts = measure.token_index(new, step_starts(resplit)) == measure.token_index(
        trace.reasoning, step_starts(steps)
    )
    return new if same_markers and same_length and same_starts else None
