"""The `mimicry` command. Each command group lives in its own module under `experiments.commands`
and registers itself through `register(app)`; heavy libraries are imported inside commands so
that `mimicry --help` stays fast."""

from __future__ import annotations

import importlib
import sys

import typer

from mimicry.data.errors import InputError

# One module per command group; each exposes register(app: typer.Typer) -> None.
COMMAND_MODULES = (
    "data_cmd",
    "behaviour_cmd",
    "capture_cmd",
    "probe_cmd",
    "effort_cmd",
    "distill_cmd",
    "pipeline_cmd",
    "models_cmd",
    "organism_cmd",
)


def _root() -> None:
    """Probe whether reasoning distillation transmits a teacher's difficulty-sensitive computation.

    `--verbose` anywhere on the command line shows the libraries' own progress bars and warnings.
    """


def build_app() -> typer.Typer:
    """Assemble the CLI from the command modules."""
    app = typer.Typer(
        name="mimicry",
        help="Probe whether reasoning distillation transmits a teacher's difficulty-sensitive computation.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    app.command("versions")(print_versions)
    for name in COMMAND_MODULES:
        importlib.import_module(f"mimicry.experiments.commands.{name}").register(app)
    return app


STACK = (
    "torch",
    "transformers",
    "tokenizers",
    "nnsight",
    "transformer-lens",
    "trl",
    "peft",
    "accelerate",
    "scikit-learn",
    "scipy",
    "einops",
    "numpy",
    "safetensors",
)


def stack_versions() -> dict[str, str]:
    """Installed versions of the libraries a result depends on (recorded in every report)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for dist in ("mimicry", *STACK):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found


def print_versions() -> None:
    """Print the versions of Python, mimicry and the libraries it drives."""
    for name, ver in stack_versions().items():
        print(f"{name:18s} {ver}")


def run(argv: list[str]) -> int:
    """Run the CLI on `argv` and return the exit code; bad input prints one line and returns 2."""
    from mimicry.experiments.quiet import quiet

    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    app = build_app()
    try:
        with quiet(verbose):
            app(args=argv, prog_name="mimicry", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def main() -> None:
    """Console entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
