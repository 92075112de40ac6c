"""Teacher traces for the ablations: one usable trace per item, with its prompt and task.

Only parsed, correct traces with non-empty reasoning are used by default; every other trace is
counted in the exclusions ledger by reason. Prompts and tasks come from the trace lines (written by
`mimicry generate`) or from an item table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions

STAGE = "ablate"


@dataclass(frozen=True)
class TeacherTrace:
    """One teacher trace an SFT example is built from."""

    item_id: str
    task: str
    prompt: str
    reasoning: str
    answer: str
    model: str


def _extra_fields(frame) -> dict[tuple[str, int], dict]:
    """prompt/task keys of the raw lines (read_traces keeps only the contract fields)."""
    extras: dict[tuple[str, int], dict] = {}
    for path in frame["file"].unique():
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip():
                obj = json.loads(line)
                extras[(path, number)] = {k: obj.get(k) for k in ("prompt", "task")}
    return extras


def load_teacher_traces(
    trace_paths,
    *,
    items_path=None,
    include_incorrect: bool = False,
    exclusions: Exclusions,
) -> list[TeacherTrace]:
    """Read, validate and filter teacher traces; first usable sample per item, in file order."""
    from mimicry.data.traces import read_traces

    paths = [trace_paths] if isinstance(trace_paths, str | Path) else list(trace_paths)
    items = None
    if items_path is not None:
        from mimicry.data.items import read_items

        items = read_items(items_path).set_index("item_id")
    frame, ledger = read_traces(
        paths, item_ids=None if items is None else list(items.index), exclusions=Exclusions()
    )
    models = sorted(frame["model"].unique())
    if len(models) > 1:
        raise InputError(
            f"traces of several models {models}; ablations are built from one teacher",
            file=paths[0],
            field="model",
        )
    extras = _extra_fields(frame)
    chosen: dict[str, TeacherTrace] = {}
    for row in frame.sort_values(["item_id", "sample"], kind="stable").itertuples(index=False):
        extra = extras.get((row.file, row.line), {})
        if items is not None:
            prompt, task = str(items.at[row.item_id, "prompt"]), str(items.at[row.item_id, "task"])
        else:
            prompt, task = extra.get("prompt"), extra.get("task")
            if not prompt:
                raise InputError(
                    "trace has no prompt; pass the item table (--items)",
                    file=row.file,
                    row=row.line,
                    field="prompt",
                )
            task = str(task or "all")
        reason = None
        if not row.reasoning.strip():
            reason = "empty_reasoning"
        elif not row.parsed:
            reason = "unparsed_answer"
        elif not row.correct and not include_incorrect:
            reason = "incorrect"
        elif row.item_id in chosen:
            reason = "extra_sample_unused"
        if reason is not None:
            exclusions.add(
                STAGE, reason, model=row.model, task=task, example=f"{row.item_id}#{row.sample}"
            )
            continue
        chosen[row.item_id] = TeacherTrace(
            item_id=row.item_id,
            task=task,
            prompt=str(prompt),
            reasoning=row.reasoning.strip(),
            answer=row.answer.strip(),
            model=row.model,
        )
    order = {item_id: i for i, item_id in enumerate(dict.fromkeys(frame["item_id"]))}
    return sorted(chosen.values(), key=lambda t: order[t.item_id])
