"""`mimicry data`: list the built-in tasks, export item tables, validate a user's item table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicry.data.errors import InputError

data_app = typer.Typer(
    help="Built-in human-normed tasks, generated items and item-table validation.",
    no_args_is_help=True,
)

GEN_HELP = (
    "A built-in task name (see `mimicry data list`), `all` for every built-in task, a "
    "generated set `gen:FAMILY:N` or `gen:FAMILY:N:MIN-MAX` (MIN-MAX premises), or an item "
    "table file (.csv/.jsonl) to merge in."
)


@data_app.command("list")
def list_command() -> None:
    """Show the built-in tasks (items, norm, source) and the families that can be generated."""
    from rich.console import Console
    from rich.table import Table

    from mimicry.data.families import FAMILIES
    from mimicry.data.tasks import list_tasks, task_exclusions

    table = Table(title="Built-in tasks (human norms)")
    for column in ("task", "family", "items", "norm"):
        table.add_column(column, no_wrap=True)
    table.add_column("excluded", overflow="fold")
    table.add_column("source", overflow="fold")
    for row in list_tasks().itertuples():
        excluded = task_exclusions(row.name)
        items_out = sum(r["n"] for r in excluded.rows() if r["reason"].startswith("item_"))
        table.add_row(
            row.name, row.family, str(row.n_items), row.norm,
            f"{items_out} items, {excluded.total() - items_out} trials", row.source,
        )  # fmt: skip
    families = Table(title="Generated families (gen:FAMILY:N)")
    families.add_column("family", no_wrap=True)
    families.add_column("items", overflow="fold")
    for name, family in FAMILIES.items():
        families.add_row(name, family.description)
    console = Console(emoji=False, highlight=False)
    console.print(table)
    console.print(families)


def _parse_gen(spec: str) -> tuple[str, int, dict]:
    parts = spec.split(":")
    if len(parts) not in (3, 4) or not parts[2].isdigit() or int(parts[2]) == 0:
        raise InputError(
            f"bad generated set {spec!r}: use gen:FAMILY:N or gen:FAMILY:N:MIN-MAX", field="tasks"
        )
    options: dict = {}
    if len(parts) == 4:
        low, _, high = parts[3].partition("-")
        if not (low.isdigit() and (high or low).isdigit()):
            raise InputError(f"bad premise range {parts[3]!r} in {spec!r}", field="tasks")
        options["n_premises"] = (int(low), int(high or low))
    return parts[1], int(parts[2]), options


def build_table(tasks: list[str], seed: int):
    """Concatenate built-in tasks, generated sets and item files into one table, plus exclusions.

    `feat_*` columns that a family does not define are 0 for its items (e.g. `feat_n_right`,
    the number of "right" premises, is 0 for a syllogism).
    """
    import pandas as pd

    from mimicry.data.exclusions import Exclusions
    from mimicry.data.generators import generate_items
    from mimicry.data.items import SUFFIXES, ordered_columns, read_items, validate_items
    from mimicry.data.tasks import TASKS, load_task, task_exclusions

    names: list[str] = []
    for task in tasks:
        names.extend(TASKS if task == "all" else [task])
    frames = []
    ledger = Exclusions()
    for name in names:
        if name.startswith("gen:"):
            family, n, options = _parse_gen(name)
            frames.append(generate_items(family, n, seed, **options))
        elif name not in TASKS and (Path(name).suffix.lower() in SUFFIXES or Path(name).exists()):
            frames.append(read_items(name))
        else:
            frames.append(load_task(name))
            ledger.merge(task_exclusions(name))
    feats = sorted({c for frame in frames for c in frame.columns if c.startswith("feat_")})
    frames = [f.assign(**{c: 0.0 for c in feats if c not in f.columns}) for f in frames]
    table = pd.concat(frames, ignore_index=True)
    table = validate_items(table[ordered_columns(table.columns)], source="export")
    return table, ledger


@data_app.command("export")
def export_command(
    tasks: Annotated[list[str], typer.Argument(help=GEN_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Output item table (.csv or .jsonl).")],
    seed: Annotated[int, typer.Option(help="Seed for generated sets.")] = 0,
    exclusions: Annotated[
        Path | None,
        typer.Option(help="Also write the trials/items left out of the norms to this CSV."),
    ] = None,
) -> None:
    """Write built-in tasks and/or generated items as one item table."""
    from mimicry.data.fileio import check_out_file, record_output
    from mimicry.data.items import SUFFIXES, write_items

    check_out_file(out, field="out")  # an existing file only when an earlier export wrote it
    for task in tasks:
        if Path(task).is_file() and Path(task).resolve() == out.resolve():
            raise InputError(
                "is also an input table; refusing to replace it", file=out, field="out"
            )
    if exclusions is not None:
        check_out_file(exclusions, field="exclusions")
    if out.suffix.lower() not in SUFFIXES:
        raise InputError(f"unknown item table suffix {out.suffix!r}: use .csv or .jsonl", file=out)
    table, ledger = build_table(tasks, seed)
    write_items(table, out)
    record_output(out)
    if exclusions is not None:
        ledger.write_csv(exclusions)
        record_output(exclusions)
    counts = table.groupby("task", sort=False).size()
    summary = ", ".join(f"{task} {n}" for task, n in counts.items())
    print(f"wrote {len(table)} items to {out} ({summary})")
    for row in ledger.rows():
        print(f"  excluded {row['n']} ({row['reason']}) in {row['task']}")


@data_app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="Item table to check (.csv or .jsonl).")],
) -> None:
    """Check an item table; print items per task and which norms are present."""
    from rich.console import Console
    from rich.table import Table

    from mimicry.data.items import read_items

    items = read_items(file)
    table = Table(title=f"{file}: {len(items)} items, valid")
    for column in ("task", "items", "human_rt_ms", "human_acc", "n_humans", "groups"):
        table.add_column(column, no_wrap=column == "task", overflow="fold")
    for task, rows in items.groupby("task", sort=False):
        table.add_row(
            str(task),
            str(len(rows)),
            *(str(int(rows[c].notna().sum())) for c in ("human_rt_ms", "human_acc", "n_humans")),
            str(rows["group"].nunique()),
        )
    console = Console(emoji=False, highlight=False)
    console.print(table)
    feats = [c for c in items.columns if c.startswith("feat_")]
    console.print(f"surface features: {', '.join(feats) if feats else 'none'}")


def register(app: typer.Typer) -> None:
    """Attach this group's commands to the main app."""
    app.add_typer(data_app, name="data")
