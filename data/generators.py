"""Generated items of the built-in task families, for training the organism and its students.

Generated items use the same templates, vocabulary and `feat_*` columns as the built-in human
items, carry their derivation (`steps`, a JSON list) and a `group` (the abstract template, so
grouped cross-validation can hold templates out), and never repeat a human-normed prompt: the
human items stay unseen by anything trained on generated data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.families import FAMILIES, get_family
from mimicry.data.items import validate_items


def families() -> list[str]:
    """Names of the families that can be generated."""
    return list(FAMILIES)


def generate_structs(
    family: str, n: int, seed: int, *, unique: bool = True, **options: Any
) -> list[Any]:
    """`n` random structured items of `family`, deterministic given `seed`.

    Items whose prompt equals a human-normed item's prompt are never returned; with `unique`,
    no prompt repeats within the set either.

    Raises:
        InputError: bad family or options, or when the family cannot supply `n` distinct items.
    """
    if n < 0:
        raise InputError(f"n must be >= 0, got {n}", field="n")
    spec = get_family(family)
    from mimicry.data.tasks import human_prompts

    forbidden = human_prompts()
    rng = random.Random(f"mimicry:{family}:{seed}")
    structs: list[Any] = []
    seen: set[str] = set()
    attempts = 0
    max_attempts = 50 * n + 1000
    while len(structs) < n:
        attempts += 1
        if attempts > max_attempts:
            raise InputError(
                f"could only generate {len(structs)} distinct {family} items of {n} asked "
                f"with options {options}; widen the options or ask for fewer",
                field="n",
            )
        try:
            struct = spec.sample(rng, **options)
        except (TypeError, ValueError) as error:
            raise InputError(
                f"bad options for family {family!r}: {error}", field="options"
            ) from None
        prompt = spec.render_prompt(struct)
        if prompt in forbidden or (unique and prompt in seen):
            continue
        seen.add(prompt)
        structs.append(struct)
    return structs


def item_rows(
    family: str, structs: Iterable[Any], item_ids: Iterable[str], task: str
) -> list[dict[str, Any]]:
    """Item-table rows (prompt, answer, group, steps, `feat_*`) for structured items."""
    spec = get_family(family)
    rows = []
    for struct, item_id in zip(structs, item_ids, strict=True):
        prompt = spec.render_prompt(struct)
        steps = spec.solution_steps(struct)
        row: dict[str, Any] = {
            "item_id": item_id,
            "task": task,
            "prompt": prompt,
            "answer": spec.solve(struct),
            "group": f"{spec.name}:{spec.template_id(struct)}",
            "family": spec.name,
            "steps": json.dumps(steps),
        }
        row.update(spec.surface_features(struct, prompt))
        rows.append(row)
    return rows


def generate_items(
    family: str, n: int, seed: int, *, task: str | None = None, **options: Any
) -> pd.DataFrame:
    """`n` generated items of `family` as a validated item table (no human norms).

    Args:
        family: one of `families()`.
        n: number of items.
        seed: random seed; the same (family, n, seed, options) give the same table.
        task: the `task` column (default `gen_<family>`).
        **options: passed to the family's sampler (e.g. `n_premises=(2, 6)`).

    Item ids are `gen-<family>-<seed>-<i>`.
    """
    structs = generate_structs(family, n, seed, **options)
    ids = [f"gen-{family}-{seed}-{i}" for i in range(n)]
    rows = item_rows(family, structs, ids, task or f"gen_{family}")
    if not rows:
        columns = ["item_id", "task", "prompt", "answer", "group", "family", "steps"]
        return pd.DataFrame(columns=columns)
    return validate_items(pd.DataFrame(rows), source=f"gen:{family}:{n}")
