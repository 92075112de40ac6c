"""`mimicry run`, `mimicry demo`, `mimicry report`, `mimicry config-help`: the whole study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEMO_CONFIG = CONFIG_DIR / "organism.yaml"
QUICK_CONFIG = CONFIG_DIR / "organism-smoke.yaml"


def _print_config_help() -> None:
    from mimicry.experiments.config import config_help

    print("Run config options (YAML; dotted names are nested sections):")
    for line in config_help():
        print(line)


def run_command(
    config: Annotated[
        Path | None, typer.Argument(help="Run config (YAML); see `mimicry config-help`.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default: runs/<config name>).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-run every stage even when its inputs are unchanged.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Run only this stage (repeatable); earlier outputs must exist."
        ),
    ] = None,
    help_config: Annotated[
        bool, typer.Option("--help-config", help="List every config option and exit.")
    ] = False,
) -> None:
    """Run the study a config describes; finished stages are skipped, a killed run resumes."""
    if help_config:
        _print_config_help()
        return
    if config is None:
        raise typer.BadParameter("a config file is required (or --help-config)")
    from mimicry.experiments.config import load_config
    from mimicry.experiments.pipeline import run_pipeline

    loaded = load_config(config)
    run_dir = out or Path("runs") / loaded.name
    if out is not None and out.exists() and not out.is_dir():
        from mimicry.data.errors import InputError

        raise InputError("exists and is not a folder; expected a run folder", file=out, field="out")
    run_pipeline(loaded, run_dir, force=force, only=only)
    _say_where(run_dir)


def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/demo"),
    retrain_organism: Annotated[
        bool,
        typer.Option(
            "--retrain-organism",
            help="Retrain the organism (teacher SFT + GRPO, base) from scratch instead of using "
            "the shipped weights.",
        ),
    ] = False,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="The reduced smoke config (seconds, not minutes); with --retrain-organism, only "
            "the organism's quick recipe runs (a smoke test of the training code).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-run every stage.")] = False,
) -> None:
    """Run the whole study on the built-in model organism (CPU, minutes) and write the report."""
    from mimicry.data.fileio import RUN_MARKER
    from mimicry.data.lock import run_lock
    from mimicry.experiments.config import load_config
    from mimicry.experiments.pipeline import run_pipeline
    from mimicry.experiments.pipeline.runner import check_run_dir

    config = load_config(QUICK_CONFIG if quick else DEMO_CONFIG)
    check_run_dir(out)
    with run_lock(out):
        (out / RUN_MARKER).touch()
        if _demo(config, out, retrain_organism, quick, force, run_pipeline):
            _say_where(out)


def _demo(config, out, retrain_organism, quick, force, run_pipeline) -> bool:
    organism_dir = None
    if retrain_organism:
        from rich.console import Console

        from mimicry.distill.organism.recipe import FULL, QUICK
        from mimicry.distill.organism.train import train_organism

        console = Console(stderr=True)
        organism_dir = out / "organism"
        console.rule(f"training the organism into {organism_dir}")
        train_organism(
            organism_dir,
            seed=config.seed,
            recipe=QUICK if quick else FULL,
            command="mimicry demo --retrain-organism" + (" --quick" if quick else ""),
            progress=lambda message: console.print(f"  organism: {message}"),
        )
        if quick:
            console.print(
                f"quick organism written to {organism_dir}: the quick recipe only smoke-tests the "
                "training code (its models are too small to reason), so the study is not run on it; "
                "use --retrain-organism without --quick for a usable organism."
            )
            return False
    run_pipeline(config, out, force=force, organism_dir=organism_dir)
    return True


def report_command(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
) -> None:
    """(Re)write RUN/report/index.html and report.md from the run directory's tables."""
    from mimicry.data.lock import run_lock
    from mimicry.experiments.report import build_report

    _check_report_inputs(run)
    with run_lock(run):
        index = build_report(run)
    print(f"report: {index}")


def _check_report_inputs(run: Path) -> None:
    """One line for a run folder the report cannot read: missing, a broken RUN/config.yaml,
    a table that is not UTF-8 or not CSV."""
    import pandas as pd
    import yaml

    from mimicry.data.errors import InputError

    if not run.is_dir():
        raise InputError("no such run folder", file=run, field="run")
    config = run / "config.yaml"
    if config.is_file():
        data = config.read_bytes()
        try:
            parsed = yaml.safe_load(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise InputError("not UTF-8 text", file=config, row=line) from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            row = None if mark is None else mark.line + 1
            raise InputError("invalid YAML", file=config, row=row) from None
        if not isinstance(parsed, dict):
            raise InputError("not a YAML mapping of sections", file=config)
        _check_report_section(parsed.get("report") or {}, config, data.decode("utf-8"))
    for table in sorted(run.rglob("*.csv")):
        if any(part.startswith(".") for part in table.relative_to(run).parts):
            continue
        data = table.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise InputError("not UTF-8 text", file=table, row=line) from None
        if not data.strip():
            continue
        try:
            pd.read_csv(table, nrows=100_000)
        except (pd.errors.ParserError, ValueError) as error:
            first = " ".join(str(error).split())[:160]
            raise InputError(f"not a readable CSV table: {first}", file=table) from None


def _check_report_section(section: object, path: Path, text: str) -> None:
    """RUN/config.yaml's `report` section must be a valid ReportConfig (the report's options)."""
    from pydantic import ValidationError

    from mimicry.data.errors import InputError
    from mimicry.experiments.config.loading import yaml_line
    from mimicry.experiments.config.stage_options import ReportConfig

    try:
        ReportConfig.model_validate(section)
    except ValidationError as error:
        first = error.errors()[0]
        loc = ["report", *map(str, first["loc"])]
        raise InputError(
            first["msg"], file=path, row=yaml_line(text, loc), field=".".join(loc)
        ) from None


def config_help_command() -> None:
    """List every run-config option with its type, default and meaning."""
    _print_config_help()


def _say_where(run_dir: Path) -> None:
    from mimicry.experiments.report.gate_sections import headline

    for line in headline(run_dir):
        print(line)
    print(f"report: {run_dir / 'report' / 'index.html'}")


def register(app: typer.Typer) -> None:
    """Attach this group's commands to the main app."""
    app.command("run")(run_command)
    app.command("demo")(demo_command)
    app.command("report")(report_command)
    app.command("config-help")(config_help_command)
