"""`mimicry models`: the registry of real teacher / student / base triples as a table, and
`mimicry models import-gguf`, which turns a GGUF file into a folder every stage can load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

models_app = typer.Typer(
    help="The registered models and triples (the table), and importing GGUF files."
)


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    triple: Annotated[str | None, typer.Option(help="Show only the models of this triple.")] = None,
    runs: Annotated[
        str | None, typer.Option(help="Show only models that run here: cpu, gpu-1, gpu-n, remote.")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="A registry file other than the shipped one.")
    ] = None,
) -> None:
    """List the registered models (size in bf16, layers, width, think tags, where each can run) and triples."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from mimicry.data.errors import InputError
    from mimicry.experiments.registry import load_registry

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


@models_app.command("import-gguf")
def import_gguf_command(
    file: Annotated[
        Path, typer.Argument(help="The .gguf file (any architecture transformers reads).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="New folder to write; refused if it holds anything.")
    ],
) -> None:
    """Write a plain Hugging Face folder (float32 safetensors, tokenizer, chat template) from a
    GGUF file, after checking that it gives the GGUF model's own logits."""
    from mimicry.probes.gguf_import import check_gguf_file, check_out_dir, import_gguf

    check_gguf_file(file)
    check_out_dir(out)  # both before the slow imports, so bad input fails at once
    folder = import_gguf(file, out)
    print(f"wrote {folder}")


def register(app: typer.Typer) -> None:
    """Attach `mimicry models` and `mimicry models import-gguf`."""
    app.add_typer(models_app, name="models")
