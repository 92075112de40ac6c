"""`mimicry models`: the registry of real teacher / student / base triples as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def models(
    triple: Annotated[str | None, typer.Option(help="Show only the models of this triple.")] = None,
    runs: Annotated[
        str | None, typer.Option(help="Show only models that run here: cpu, gpu-1, gpu-n, remote.")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="A registry file other than the shipped one.")
    ] = None,
) -> None:
    """List the registered models (size in bf16, layers, width, think tags, where each can run) and triples."""
    from rich.console import Console
    from rich.table import Table

    from data.errors import InputError
    from experiments.registry import load_registry

    reg = load_registry(registry)
    names = list(reg.models)
    if triple is not None:
        if triple not in reg.triples:
            raise InputError(
                f"unknown triple {triple!r}; known: {', '.join(reg.triples)}", field="triple"
            )
        chosen = reg.triples[triple]
        names = [chosen.teacher, chosen.student, chosen.base]
    if runs is not None:
        names = [n for n in names if reg.models[n].runs == runs]
    table = Table(title="Registered models")
    for column in (
        "name",
        "role",
        "hub",
        "arch",
        "params (B)",
        "layers",
        "d_model",
        "bf16 GB",
        "think tags",
        "runs",
    ):
        table.add_column(column)
    for name in names:
        entry = reg.models[name]
        conv = reg.convention_of(name)
        table.add_row(
            name,
            entry.role,
            entry.hub,
            entry.architecture,
            f"{entry.params_b:g}",
            str(entry.n_layers),
            str(entry.d_model),
            f"{entry.bf16_gb:g}",
            f"{conv.think_open} {conv.think_close}",
            entry.runs,
        )
    console = Console(width=200)
    console.print(table)
    triples = Table(title="Triples (teacher -> student, base)")
    for column in ("triple", "teacher", "student", "base"):
        triples.add_column(column)
    for name, t in reg.triples.items():
        if triple is None or name == triple:
            triples.add_row(name, t.teacher, t.student, t.base)
    console.print(triples)


def register(app: typer.Typer) -> None:
    """Attach `mimicry models`."""
    app.command("models")(models)
