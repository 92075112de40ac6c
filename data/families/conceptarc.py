"""ConceptARC (Moskvichev, Odouard & Mitchell 2023): ARC grid puzzles grouped by concept.

A built-in-only family: there is no generator and no derivation (no `Family` record, so it is not
in `data.families.FAMILIES`, which lists the families that can be generated). One item is one test
input of one task file; its norms are the item-level human accuracy of the shipped
`data_xlsx_sheet_Human_Performance.csv` (no trials, no RTs).

Grids are rendered on one line each, rows separated by ` / ` and cells as colour digits, so an
answer grid survives answer parsing that keeps the first line of a generation and a word
tokenizer sees one token per cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.families.base import common_features, words_of

FAMILY_NAME = "conceptarc"
TASK_NAME = "conceptarc"
HUMAN_FILE = "data_xlsx_sheet_Human_Performance.csv"
ROW_SEPARATOR = " / "
_INSTRUCTION = (
    "Each example turns an input grid into an output grid by the same rule. "
    "Grid rows are separated by / and each digit is a colour."
)
_QUESTION = "Question: what is the test output grid?"
_TEMPLATE_WORDS = frozenset(words_of(f"{_INSTRUCTION} {_QUESTION} example input output test :"))
_TASK_FILE = re.compile(r"^(?P<concept>[A-Za-z0-9]+?)(?P<minimal>Minimal|\d+)\.json$")

Grid = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ConceptArcItem:
    """One test input of a ConceptARC task with the task's demonstration pairs."""

    task_file: str
    test_index: int
    demos: tuple[tuple[Grid, Grid], ...]
    test_input: Grid
    test_output: Grid

    @property
    def concept(self) -> str:
        return concept_of(self.task_file)

    @property
    def minimal(self) -> bool:
        return self.task_file.endswith("Minimal.json")


def concept_of(task_file: str) -> str:
    """`AboveBelow` for `AboveBelow7.json` and `AboveBelowMinimal.json`."""
    match = _TASK_FILE.match(task_file)
    if match is None:
        raise InputError(f"not a ConceptARC task file name: {task_file!r}", field="Task File")
    return match["concept"]


def render_grid(grid: Grid) -> str:
    """`0 0 1 / 0 1 0`: one line, rows separated by ` / `, cells as digits."""
    return ROW_SEPARATOR.join(" ".join(str(cell) for cell in row) for row in grid)


def render_prompt(item: ConceptArcItem) -> str:
    """Instruction, numbered demonstration pairs, the test input, then the question."""
    lines = [_INSTRUCTION]
    for number, (grid_in, grid_out) in enumerate(item.demos, start=1):
        lines.append(f"example {number} input : {render_grid(grid_in)}")
        lines.append(f"example {number} output : {render_grid(grid_out)}")
    lines.append(f"test input : {render_grid(item.test_input)}")
    lines.append(_QUESTION)
    return "\n".join(lines)


def solve(item: ConceptArcItem) -> str:
    """The test output grid, rendered like the grids of the prompt."""
    return render_grid(item.test_output)


def _cells(grid: Grid) -> int:
    return sum(len(row) for row in grid)


def surface_features(item: ConceptArcItem, prompt: str) -> dict[str, float]:
    """Prompt length features shared with the other families, plus grid sizes and colours.

    `feat_n_colors` counts the distinct colours in every grid the prompt shows (demonstrations and
    test input); `feat_output_cells` is the size of the answer grid.
    """
    common = common_features(prompt, n_premises=len(item.demos), steps=[], n_entities=0)
    shown = [g for pair in item.demos for g in pair] + [item.test_input]
    return {
        "feat_n_demos": float(len(item.demos)),
        "feat_grid_cells": float(_cells(item.test_input)),
        "feat_output_cells": float(_cells(item.test_output)),
        "feat_n_colors": float(len({cell for grid in shown for row in grid for cell in row})),
        "feat_minimal": float(item.minimal),
        **{
            name: common[name] for name in ("feat_prompt_words", "feat_prompt_chars", "feat_digits")
        },
    }


def vocabulary() -> frozenset[str]:
    """Template words plus the ten colour digits."""
    return _TEMPLATE_WORDS | frozenset("0123456789")


def _grid(value: Any) -> Grid:
    return tuple(tuple(int(cell) for cell in row) for row in value)


def items_of_task(task_file: str, task: Mapping[str, Any]) -> list[ConceptArcItem]:
    """One item per test input of an ARC task (`{"train": [...], "test": [...]}`)."""
    demos = tuple((_grid(p["input"]), _grid(p["output"])) for p in task["train"])
    return [
        ConceptArcItem(task_file, index, demos, _grid(p["input"]), _grid(p["output"]))
        for index, p in enumerate(task["test"])
    ]


def item_id(task_file: str, test_index: int) -> str:
    """`carc-AboveBelow7-0`: task file stem and test input index."""
    return f"carc-{task_file.removesuffix('.json')}-{test_index}"


def _norm_rows(human: pd.DataFrame) -> dict[tuple[str, int], tuple[float, int]]:
    """(task file, test index) -> (accuracy, people); rows with every cell empty are the sheet's
    separators between concepts and carry no data."""
    norms: dict[tuple[str, int], tuple[float, int]] = {}
    for row_number, row in enumerate(human.to_dict(orient="records"), start=1):
        if all(pd.isna(v) or str(v).strip() == "" for v in row.values()):
            continue
        for field in ("Task File", "Test Input Index", "TotalAttempts", "Accuracy"):
            if pd.isna(row[field]):
                raise InputError("missing value", file=HUMAN_FILE, row=row_number, field=field)
        for field in ("Test Input Index", "TotalAttempts"):
            if not float(row[field]).is_integer():
                raise InputError("must be an integer", file=HUMAN_FILE, row=row_number, field=field)
        key = (str(row["Task File"]).strip(), int(row["Test Input Index"]))
        if key in norms:
            raise InputError(
                f"duplicate row for {key}", file=HUMAN_FILE, row=row_number, field="Task File"
            )
        norms[key] = (float(row["Accuracy"]), int(row["TotalAttempts"]))
    return norms


def build_rows(
    human: pd.DataFrame, tasks: Mapping[str, Mapping[str, Any]], ledger: Exclusions
) -> list[dict[str, Any]]:
    """Item-table rows for every test input that has both a task file and a human-norm row.

    A test input without a norm row (`item_without_human_norm`) and a norm row without a test
    input (`item_norm_without_task`) are counted in `ledger`, never dropped silently. Rows follow
    the order of the norm table.
    """
    norms = _norm_rows(human)
    structs = {
        (s.task_file, s.test_index): s for name in tasks for s in items_of_task(name, tasks[name])
    }
    rows = []
    for key, (accuracy, people) in norms.items():
        if key not in structs:
            ledger.add("data", "item_norm_without_task", task=TASK_NAME, example=item_id(*key))
            continue
        struct = structs[key]
        prompt = render_prompt(struct)
        rows.append(
            {
                "item_id": item_id(*key),
                "task": TASK_NAME,
                "prompt": prompt,
                "answer": solve(struct),
                "human_rt_ms": float("nan"),
                "human_acc": accuracy,
                "n_humans": people,
                "group": f"{FAMILY_NAME}:{struct.concept}",
                "family": FAMILY_NAME,
                "steps": "[]",
                **surface_features(struct, prompt),
            }
        )
    for key in sorted(set(structs) - set(norms)):
        ledger.add("data", "item_without_human_norm", task=TASK_NAME, example=item_id(*key))
    return rows


def shipped_tasks() -> dict[str, dict[str, Any]]:
    """Every shipped ARC task file (`data/builtin/conceptarc/*.json`) by file name."""
    folder = resources.files("mimicry.data.builtin.conceptarc")
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    }


def builtin_rows(ledger: Exclusions) -> list[dict[str, Any]]:
    """The built-in `conceptarc` task's rows from the shipped files (exclusions into `ledger`)."""
    folder = resources.files("mimicry.data.builtin.conceptarc")
    with folder.joinpath(HUMAN_FILE).open("r", encoding="utf-8") as handle:
        human = pd.read_csv(handle, skip_blank_lines=False)
    return build_rows(human, shipped_tasks(), ledger)
