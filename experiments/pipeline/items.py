"""The data stage: the evaluated item table (`RUN/items.csv`) and the distillation prompts
(`RUN/train_items.csv`), built from the built-in tasks, a user table and generated sets.
Surface-feature columns not defined for every task are dropped and listed in
`RUN/data/dropped_features.csv` (the report shows them).

Subsampling by `tasks.max_items_per_task` is seeded and counted in `RUN/data/exclusions.csv`, so a
reduced run says exactly what it left out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.experiments.config import RunConfig

STAGE = "data"


def _subsample(
    items: pd.DataFrame, limit: int | None, seed: int, ledger: Exclusions
) -> pd.DataFrame:
    if limit is None:
        return items
    kept = []
    for task, group in items.groupby("task", sort=False):
        if len(group) > limit:
            chosen = group.sample(n=limit, random_state=seed)
            dropped = group.drop(chosen.index)
            ledger.add(
                STAGE,
                f"not sampled (tasks.max_items_per_task={limit})",
                task=str(task),
                n=len(dropped),
                example=str(dropped["item_id"].iloc[0]),
            )
            group = chosen.sort_index()
        kept.append(group)
    return pd.concat(kept, ignore_index=True)


def evaluated_items(config: RunConfig, ledger: Exclusions) -> pd.DataFrame:
    """Built-in tasks + the user table + generated 'eval' sets, subsampled per task."""
    from mimicry.data.generators import generate_items
    from mimicry.data.items import read_items

    frames = []
    for name in config.tasks.builtin:
        from mimicry.data.tasks import load_task

        frames.append(load_task(name))
    if config.tasks.items_file is not None:
        frames.append(read_items(config.tasks.items_file))
    for spec in config.tasks.generated:
        if spec.role == "eval":
            seed = config.seed if spec.seed is None else spec.seed
            frames.append(generate_items(spec.family, spec.n, seed, **spec.options))
    if not frames:
        raise InputError(
            "no items: set tasks.builtin, tasks.items_file or an eval generated set", field="tasks"
        )
    items = pd.concat(frames, ignore_index=True)
    duplicated = items["item_id"].duplicated()
    if duplicated.any():
        raise InputError(
            f"item_id {items.loc[duplicated, 'item_id'].iloc[0]!r} occurs in two item sources",
            field="tasks",
        )
    return _subsample(items, config.tasks.max_items_per_task, config.seed, ledger)


def common_surface_features(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep only `feat_*` columns defined for every item (family-specific ones are NaN for the
    other families and would poison the surface-feature probe); return the dropped columns too."""
    dropped = []
    for column in [c for c in items.columns if c.startswith("feat_")]:
        missing = pd.to_numeric(items[column], errors="coerce").isna()
        if missing.any():
            tasks = sorted(items.loc[missing, "task"].astype(str).unique())
            dropped.append(
                {"column": column, "undefined_for": ",".join(tasks), "n_items": int(missing.sum())}
            )
            items = items.drop(columns=column)
    return items, pd.DataFrame(dropped, columns=["column", "undefined_for", "n_items"])


def train_items(config: RunConfig) -> pd.DataFrame | None:
    """Generated 'train' sets (distillation prompts), or None when the config has none."""
    from mimicry.data.generators import generate_items

    frames = []
    for spec in config.tasks.generated:
        if spec.role == "train":
            seed = config.seed if spec.seed is None else spec.seed
            frame = generate_items(spec.family, spec.n, seed, **spec.options)
            frame["item_id"] = "train_" + frame["item_id"].astype(str)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def build_item_tables(config: RunConfig, run_dir: Path, *, step: Callable[[], None]) -> None:
    """Write RUN/items.csv, RUN/train_items.csv (when generated train sets exist) and exclusions."""
    from mimicry.data.items import write_items

    ledger = Exclusions()
    items, dropped = common_surface_features(evaluated_items(config, ledger))
    step()
    train = train_items(config)
    if train is not None:
        overlap = set(train["prompt"]) & set(items["prompt"])
        if overlap:
            train = train[~train["prompt"].isin(overlap)]
            ledger.add(
                STAGE,
                "train prompt equals an evaluated prompt",
                n=len(overlap),
                example=next(iter(overlap))[:60],
            )
        write_items(train, run_dir / "train_items.csv")
    write_items(items, run_dir / "items.csv")
    ledger.write_csv(run_dir / "data" / "exclusions.csv")
    dropped.to_csv(run_dir / "data" / "dropped_features.csv", index=False)
    step()
