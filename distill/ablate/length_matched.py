"""`length_matched`: every trace brought to one token length, so cost no longer tracks difficulty.

The target is the median original length (or a given length). Longer traces keep their longest
prefix of whole steps that fits (a single over-long first step is cut at a token), shorter ones
are padded with neutral filler steps ("next .") and, for the last odd token, a lone ".". Content
words of the kept steps are the teacher's; the final answer is unchanged. Traces that the
tokenizer cannot bring to the exact length (merges across the padding) are counted and left out.
"""

from __future__ import annotations

import statistics

from mimicry.distill.ablate.common import BuildContext, Example
from mimicry.distill.ablate.inputs import TeacherTrace
from mimicry.distill.ablate.steps import join_steps, split_steps

NAME = "length_matched"
HELD_FIXED = "token length of the reasoning (identical for every item), final answer"
VARIED = "how much of the teacher's reasoning is kept (prefix of whole steps) and how much neutral filler is added"
FILLER_STEP = "next ."
FILLER_TOKEN = " ."


def target_length(traces: list[TeacherTrace], context: BuildContext, target: int | None) -> int:
    """The common length: `target`, else the median original length (at least 1)."""
    if target is not None:
        return int(target)
    lengths = [context.measure.count(t.reasoning) for t in traces]
    return max(1, int(round(statistics.median(lengths)))) if lengths else 1


def fit_length(text: str, length: int, context: BuildContext) -> tuple[str, dict] | None:
    """`text` cut to whole steps and padded with filler to exactly `length` tokens."""
    measure = context.measure
    original = measure.count(text)
    kept = ""
    n_kept = 0
    steps = split_steps(text)
    for _ in steps:
        candidate = join_steps(steps[: n_kept + 1]).rstrip()
        if measure.count(candidate) > length:
            break
        kept, n_kept = candidate, n_kept + 1
    if n_kept == 0 and original > length:
        kept = measure.cut(text, length)
    n_teacher = measure.count(kept)
    padded = kept
    while measure.count(padded) < length:
        step = f" {FILLER_STEP}" if padded else FILLER_STEP
        if measure.count(padded + step) <= length:
            padded += step
        else:
            before = measure.count(padded)
            padded += FILLER_TOKEN if padded else FILLER_TOKEN.strip()
            if measure.count(padded) == before:
                return None
    if measure.count(padded) != length:
        return None
    info = {
        "original_tokens": original,
        "teacher_tokens_kept": n_teacher,
        "filler_tokens": length - n_teacher,
        "steps_kept": n_kept if n_kept or original <= length else 0,
        "steps_original": len(steps),
    }
    return padded, info


def build(
    traces: list[TeacherTrace], context: BuildContext, *, target: int | None = None
) -> list[Example]:
    """One example of exactly the target length per trace."""
    length = target_length(traces, context, target)
    examples = []
    for trace in traces:
        fitted = fit_length(trace.reasoning, length, context)
        if fitted is None:
            context.exclude(trace, "cannot_reach_target_length")
            continue
        reasoning, info = fitted
        examples.append(Example(source=trace, reasoning=reasoning, info={**info, "target": length}))
    return examples
