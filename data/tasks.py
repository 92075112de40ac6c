"""Built-in tasks: the shipped human datasets parsed into structured items with human norms.

Each task reads trial-level data from `data/builtin/` (package data), turns every trial into a
structured item of its family (so the prompt is rendered by the same template the generators
use), marks each trial correct or not, and aggregates per item: median RT of correct trials,
accuracy and number of people. The rules are in `data/builtin/AGGREGATION.md`; every excluded
trial or item is counted in an `Exclusions` ledger (stage `data`), never dropped silently.
ConceptARC (optional, not in any default task list) ships item-level norms only: its rows come
from `data.families.conceptarc.builtin_rows`, not from trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.families import cardinal, conceptarc, propositional, relational, syllogistic
from mimicry.data.generators import item_rows
from mimicry.data.items import validate_items

MIN_RT_MS = 200.0
MAD_LIMIT = 3.0
MAD_SCALE = 1.4826  # makes the MAD a consistent estimate of the SD under normality


@dataclass(frozen=True)
class Trial:
    """One person's answer to one item."""

    participant: str
    correct: bool
    rt_ms: float  # NaN for datasets without reaction times


@dataclass(frozen=True)
class TaskSpec:
    """A built-in task: its family, difficulty norm, source file and trial parser.

    `item_rows` replaces `file` + `parse` for datasets with item-level norms only (no trials):
    it returns the item-table rows, norms included, and counts exclusions in the ledger.
    """

    name: str
    family: str
    norm: str  # "rt" or "acc"
    file: str
    source: str
    parse: Callable[[pd.DataFrame, Exclusions], dict[str, tuple[Any, list[Trial]]]] | None
    item_rows: Callable[[Exclusions], list[dict[str, Any]]] | None = None


def builtin_file(name: str) -> Any:
    """A shipped data file (a Traversable usable with `.open()` / `pandas.read_csv`)."""
    return resources.files("mimicry.data.builtin").joinpath("ccobra", name)


# ---------------------------------------------------------------- relational (3ps, 4ps)


def _relational_statement(text: str) -> tuple[str, str, str]:
    relation, x, y = text.split(";")
    return relation.lower(), x, y


def _parse_relational(task_name: str, id_column: str, correct_column: str, prefix: str) -> Callable:
    def parse(frame: pd.DataFrame, ledger: Exclusions) -> dict[str, tuple[Any, list[Trial]]]:
        items: dict[str, tuple[Any, list[Trial]]] = {}
        for task_id, trials in frame.groupby(id_column, sort=True):
            first = trials.iloc[0]
            struct = relational.RelationalItem(
                premises=tuple(_relational_statement(p) for p in first["task"].split("/")),
                question=_relational_statement(first["choices"]),
            )
            item_id = f"{prefix}-{int(task_id):03d}"
            try:
                relational.order(struct)
            except ValueError:
                ledger.add("data", "item_premises_not_a_chain", task=task_name, example=item_id)
                continue
            rows = [
                Trial(
                    str(r["id"]), bool(r["response"]) == bool(r[correct_column]), float(r["rt_ms"])
                )
                for _, r in trials.iterrows()
            ]
            items[item_id] = (struct, rows)
        return items

    return parse


# ---------------------------------------------------------------- cardinal directions


def _parse_cardinal(frame: pd.DataFrame, ledger: Exclusions) -> dict[str, tuple[Any, list[Trial]]]:
    items: dict[str, tuple[Any, list[Trial]]] = {}
    frame = frame.sort_values(["Task-ID", "id", "sequence"])
    for task_id, trials in frame.groupby("Task-ID", sort=True):
        first = trials.iloc[0]
        _, target, reference = first["response"].split(";")
        struct = cardinal.CardinalItem(
            premises=tuple(tuple(p.split(";")) for p in first["task"].split("/")),
            target=target,
            reference=reference,
        )
        item_id = f"card-{int(task_id):03d}"
        if not cardinal.is_determinate(struct):
            ledger.add("data", "item_indeterminate", task="cardinal_directions", example=item_id)
            continue
        answer = cardinal.solve(struct)
        rows = [
            Trial(
                str(r["id"]),
                r["response"].split(";")[0] == answer,
                float(r["p1_rt"] + r["p2_rt"] + r["rt_ms"]),
            )
            for _, r in trials.iterrows()
        ]
        items[item_id] = (struct, rows)
    return items


# ---------------------------------------------------------------- syllogisms

_QUANTIFIER = {"All": "all", "Some": "some", "No": "no", "Some not": "some_not"}


def _syllogism(task: str) -> tuple[syllogistic.SyllogismItem, dict[str, str]]:
    """Structured syllogism of a trial, and the map from its content words to roles a, b, c."""
    (q1, s1, p1), (q2, s2, p2) = (part.split(";") for part in task.split("/"))
    middle = ({s1, p1} & {s2, p2}).pop()
    a = p1 if s1 == middle else s1
    c = p2 if s2 == middle else s2
    struct = syllogistic.SyllogismItem(
        premises=((_QUANTIFIER[q1], s1, p1), (_QUANTIFIER[q2], s2, p2)), terms=(a, middle, c)
    )
    return struct, {a: "a", middle: "b", c: "c"}


@lru_cache(maxsize=256)
def _valid_responses(abstract: syllogistic.SyllogismItem) -> frozenset[str]:
    valid = syllogistic.valid_conclusions(abstract.premises, "a", "c")
    return frozenset(f"{q};{x};{y}" for q, x, y in valid) or frozenset({"NVC"})


def _parse_syllogisms(
    frame: pd.DataFrame, ledger: Exclusions
) -> dict[str, tuple[Any, list[Trial]]]:
    items: dict[str, tuple[Any, list[Trial]]] = {}
    frame = frame.sort_values(["id", "sequence"])
    for _, r in frame.iterrows():
        struct, roles = _syllogism(r["task"])
        abstract = syllogistic.SyllogismItem(
            premises=tuple((q, roles[x], roles[y]) for q, x, y in struct.premises),
            terms=("a", "b", "c"),
        )
        if r["response"] == "NVC":
            response = "NVC"
        else:
            quantifier, x, y = r["response"].split(";")
            response = f"{_QUANTIFIER[quantifier]};{roles[x]};{roles[y]}"
        item_id = f"syl-{syllogistic.mood_figure(struct)}"
        first_struct, trials = items.setdefault(item_id, (struct, []))
        trials.append(Trial(str(r["id"]), response in _valid_responses(abstract), math.nan))
    return dict(sorted(items.items()))


# ---------------------------------------------------------------- propositional

_CONNECTIVE = {"if": "if", "iff": "iff", "or/not;and": "xor", "or;or": "or"}


def _proposition(task: str) -> propositional.PropositionalItem:
    fact_text, *rest = task.split("/")
    fact = fact_text.split(";")
    atom, value = (fact[1], False) if fact[0] == "Not" else (fact[0], True)
    rule = "/".join(rest)
    head = rule.split(";A;B")[0] + ("/not;and" if "/not;and" in rule else "")
    connective = _CONNECTIVE[head]
    other = "B" if atom == "A" else "A"
    return propositional.PropositionalItem((atom, value), ((connective, "A", "B"),), (atom, other))


def _parse_propositional(
    frame: pd.DataFrame, ledger: Exclusions
) -> dict[str, tuple[Any, list[Trial]]]:
    items: dict[str, tuple[Any, list[Trial]]] = {}
    for task, trials in frame.groupby("task", sort=True):
        struct = _proposition(task)
        answer = propositional.solve(struct)
        rows = [
            Trial(str(r["id"]), r["response"].replace(";", " ") == answer, math.nan)
            for _, r in trials.iterrows()
        ]
        atom, value = struct.fact
        item_id = f"prop-{'' if value else 'not'}{atom}-{struct.premises[0][0]}"
        items[item_id] = (struct, rows)
    return dict(sorted(items.items()))


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "relational_3ps",
            "relational",
            "rt",
            "3ps.csv",
            "ccobra 3ps.csv",
            _parse_relational("relational_3ps", "Task-ID", "korrekt", "rel3"),
        ),
        TaskSpec(
            "relational_4ps",
            "relational",
            "rt",
            "4ps.csv",
            "ccobra 4ps.csv",
            _parse_relational("relational_4ps", "TaskID", "logicallycorrect", "rel4"),
        ),
        TaskSpec(
            "cardinal_directions",
            "cardinal",
            "rt",
            "Ragni2018_carddir.csv",
            "ccobra Ragni2018_carddir.csv",
            _parse_cardinal,
        ),
        TaskSpec(
            "syllogisms",
            "syllogistic",
            "acc",
            "Ragni2016.csv",
            "ccobra Ragni2016.csv",
            _parse_syllogisms,
        ),
        TaskSpec(
            "propositional",
            "propositional",
            "acc",
            "propositional_data.csv",
            "ccobra propositional data.csv",
            _parse_propositional,
        ),
        TaskSpec(
            conceptarc.TASK_NAME,
            conceptarc.FAMILY_NAME,
            "acc",
            f"conceptarc/{conceptarc.HUMAN_FILE}",
            "ConceptARC data.xlsx Human Performance + 176 task files",
            None,
            item_rows=conceptarc.builtin_rows,
        ),
    )
}


def aggregate(
    trials: list[Trial], *, use_rt: bool, task: str, item_id: str, ledger: Exclusions
) -> dict[str, float]:
    """Norms of one item: accuracy and people over all trials; median RT over correct trials
    that pass the RT rules (>= 200 ms, within 3 scaled MADs of the item's median log RT)."""
    norms = {
        "human_acc": float(np.mean([t.correct for t in trials])),
        "n_humans": len({t.participant for t in trials}),
        "human_rt_ms": math.nan,
    }
    if not use_rt:
        return norms
    rts = np.array([t.rt_ms for t in trials if t.correct], dtype=float)
    missing = ~np.isfinite(rts)
    if missing.any():
        ledger.add("data", "trial_rt_missing", task=task, n=int(missing.sum()), example=item_id)
    rts = rts[~missing]
    fast = rts < MIN_RT_MS
    if fast.any():
        ledger.add("data", "trial_rt_below_200ms", task=task, n=int(fast.sum()), example=item_id)
    rts = rts[~fast]
    if rts.size:
        logs = np.log(rts)
        centre = np.median(logs)
        spread = MAD_SCALE * np.median(np.abs(logs - centre))
        outlier = (
            np.abs(logs - centre) > MAD_LIMIT * spread if spread > 0 else np.zeros_like(logs, bool)
        )
        if outlier.any():
            ledger.add(
                "data", "trial_rt_beyond_3_mad", task=task, n=int(outlier.sum()), example=item_id
            )
        rts = rts[~outlier]
    if rts.size:
        norms["human_rt_ms"] = float(np.median(rts))
    else:
        ledger.add("data", "norm_rt_missing", task=task, example=item_id)
    return norms


@cache
def _load(name: str) -> tuple[pd.DataFrame, Exclusions]:
    if name not in TASKS:
        known = ", ".join(TASKS)
        raise InputError(f"unknown task {name!r} (built-in tasks: {known})", field="task")
    spec = TASKS[name]
    ledger = Exclusions()
    if spec.item_rows is not None:
        table = pd.DataFrame(spec.item_rows(ledger))
        return validate_items(table, source=f"builtin:{name}"), ledger
    with builtin_file(spec.file).open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle)
    parsed = spec.parse(frame, ledger)
    ids = list(parsed)
    rows = item_rows(spec.family, [parsed[i][0] for i in ids], ids, name)
    for row, item_id in zip(rows, ids, strict=True):
        row.update(
            aggregate(
                parsed[item_id][1],
                use_rt=spec.norm == "rt",
                task=name,
                item_id=item_id,
                ledger=ledger,
            )
        )
    return validate_items(pd.DataFrame(rows), source=f"builtin:{name}"), ledger


def load_task(name: str) -> pd.DataFrame:
    """The built-in task `name` as an item table with human norms (a fresh copy)."""
    return _load(name)[0].copy()


def task_exclusions(name: str) -> Exclusions:
    """Trials and items left out while building task `name`, counted by reason."""
    ledger = Exclusions()
    ledger.merge(_load(name)[1])
    return ledger


def list_tasks() -> pd.DataFrame:
    """One row per built-in task: name, family, n_items, norm (rt|acc), source."""
    return pd.DataFrame(
        [
            {
                "name": spec.name,
                "family": spec.family,
                "n_items": len(_load(spec.name)[0]),
                "norm": spec.norm,
                "source": spec.source,
            }
            for spec in TASKS.values()
        ]
    )


@lru_cache(maxsize=1)
def human_prompts() -> frozenset[str]:
    """Every prompt of a human-normed built-in item (generators never emit one of these)."""
    return frozenset(p for name in TASKS for p in _load(name)[0]["prompt"])
