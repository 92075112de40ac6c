"""The organism's items: generated training and held-out sets (disjoint by prompt) and the
human-normed items it is finally judged on."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mimicry.distill.organism.recipe import Recipe


def build_item_sets(recipe: Recipe, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generated training and held-out tables per family, disjoint by prompt (one draw, split).

    `data.generators.generate_items` never emits a human-normed prompt and no prompt twice, so
    splitting one table keeps the held-out and human items unseen in training.
    """
    from mimicry.data.generators import generate_items

    train, heldout = [], []
    n_total = recipe.n_train_per_family + recipe.n_heldout_per_family
    for family in recipe.families:
        table = generate_items(family, n_total, seed)
        train.append(table.iloc[: recipe.n_train_per_family])
        heldout.append(table.iloc[recipe.n_train_per_family :])
    return pd.concat(train, ignore_index=True), pd.concat(heldout, ignore_index=True)


def training_prompts(metrics_file: Path) -> frozenset[str]:
    """Prompts an organism was trained on, regenerated from its `metrics.json` (empty if absent)."""
    if not metrics_file.is_file():
        return frozenset()
    metrics = json.loads(metrics_file.read_text())
    stored = metrics["recipe"]
    recipe = Recipe(
        families=tuple(stored["families"]),
        n_train_per_family=stored["n_train_per_family"],
        n_heldout_per_family=stored["n_heldout_per_family"],
    )
    train, _ = build_item_sets(recipe, metrics["seed"])
    return frozenset(train["prompt"])


def human_items(families: tuple[str, ...], n_per_task: int | None = None) -> pd.DataFrame:
    """The built-in human-normed items of `families` (the real test of the organism).

    `n_per_task` keeps the first items of each task (quick runs); None keeps all of them.
    """
    from mimicry.data.tasks import list_tasks, load_task

    tasks = list_tasks()
    names = tasks.loc[tasks["family"].isin(families), "name"].tolist()
    tables = [load_task(name) for name in names]
    if n_per_task is not None:
        tables = [table.head(n_per_task) for table in tables]
    return pd.concat(tables, ignore_index=True)
