"""Run the stages of a study in order, skipping work whose inputs have not changed.

Each stage is a list of units (one model's traces, one student, one capture...). A unit is done
when its stamp in `RUN/.stamps/<stage>/<unit>/` records the hash of its inputs (file contents
and options) and a fingerprint of each output (content; large files by size and first/last MiB)
that still matches: a unit whose output was edited or lost is re-run, with one line naming the
output. A killed run therefore restarts at the first unit without a
matching stamp, and the stage functions themselves resume inside a unit (capture shards, SFT
checkpoints, generation batches).

`MIMICRY_FAIL_AFTER=<stage>:<n>` kills the process with SIGKILL after `n` units of `stage`
finished; `MIMICRY_FAIL_AFTER=<stage>:<n>:inside` kills it inside the next unit once the stage
function reports `n` steps of progress. The resume tests use it to simulate a crash without
timing races.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from mimicry.data.errors import InputError
from mimicry.data.fileio import (
    RUN_MARKER,
    STAMP_NAME,
    atomic_file,
    check_out_dir,
    hash_inputs,
    is_fresh,
    output_fingerprint,
    write_stamp,
)
from mimicry.data.lock import run_lock
from mimicry.experiments.config import STAGE_NAMES, RunConfig, dump_config

FAIL_ENV = "MIMICRY_FAIL_AFTER"
STAMPS_DIR = ".stamps"


@dataclass
class Unit:
    """One resumable piece of a stage.

    Attributes:
        name: unique within the stage (e.g. a model name); names the stamp folder.
        inputs: what the outputs depend on: Paths (hashed by content) and JSON values.
        outputs: files or folders that must exist once `run` returns.
        run: does the work; receives a `step()` callback to report progress.
        requires: inputs that must exist before running (a clear error names the missing one).
    """

    name: str
    inputs: Sequence[Any]
    outputs: Sequence[Path]
    run: Callable[[Callable[[], None]], None]
    requires: Sequence[Path] = field(default_factory=tuple)


@dataclass
class RunContext:
    """What every stage builder needs: the run folder, the config and a console for messages.

    `organism_dir` holds organism weights trained by this call (`mimicry demo
    --retrain-organism`) in place of the shipped ones; `progress` is the run's one live display.
    """

    run_dir: Path
    config: RunConfig
    console: Console
    organism_dir: Path | None = None
    progress: Any = None


StageBuilder = Callable[[RunContext], list[Unit]]


@dataclass
class UnitResult:
    stage: str
    unit: str
    status: str  # "ran" or "skipped"
    seconds: float


def run_pipeline(
    config: RunConfig,
    run_dir: str | Path,
    *,
    builders: dict[str, StageBuilder] | None = None,
    force: bool = False,
    only: Sequence[str] | None = None,
    console: Console | None = None,
    organism_dir: Path | None = None,
) -> list[UnitResult]:
    """Run the configured stages in pipeline order into `run_dir`; return what ran and what was skipped."""
    from mimicry.experiments.pipeline.stages import STAGE_BUILDERS

    builders = STAGE_BUILDERS if builders is None else builders
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    for name in only or ():
        if name not in STAGE_NAMES:
            raise InputError(
                f"unknown stage {name!r}; choose from {', '.join(STAGE_NAMES)}", field="only"
            )
    check_run_dir(run_dir)
    fresh = not run_dir.exists()
    results: list[UnitResult] = []
    with run_lock(run_dir):
        try:
            _run_locked(config, run_dir, builders, force, only, console, organism_dir, results)
        except InputError:
            if fresh and not any(r.status == "ran" for r in results):
                # A refused start leaves nothing behind: this call created the folder and
                # nothing in it is finished work.
                _remove_all_but_lock(run_dir)
            raise
    return results


def _remove_all_but_lock(run_dir: Path) -> None:
    from mimicry.data.lock import LOCK_NAME

    for path in run_dir.iterdir():
        if path.name != LOCK_NAME:
            _remove(path)


def check_run_dir(run_dir: Path) -> None:
    """Refuse a run folder this suite did not create: a file, or a non-empty folder without the
    run marker or stamps (the run would overwrite `config.yaml` and its outputs)."""
    if (run_dir / STAMPS_DIR).is_dir() or (run_dir / RUN_MARKER).is_file():
        return
    check_out_dir(run_dir)


def _run_locked(config, run_dir, builders, force, only, console, organism_dir, results) -> None:
    (run_dir / RUN_MARKER).touch()
    with atomic_file(run_dir / "config.yaml") as tmp:
        tmp.write_text(dump_config(config))
    wanted = [s for s in STAGE_NAMES if s in config.stages and (not only or s in only)]
    ctx = RunContext(run_dir=run_dir, config=config, console=console, organism_dir=organism_dir)
    fail = _parse_fail_env()
    claimed: dict[Path, str] = {}
    started = time.perf_counter()
    console.rule(f"[bold]mimicry run[/] {config.name} -> {run_dir}")
    with _threads(config.threads), _progress(console) as progress:
        overall = progress.add_task("stages", total=len(wanted))
        ctx.progress = progress
        for index, stage in enumerate(wanted, start=1):
            progress.update(overall, description=f"stage {stage}")
            units = builders[stage](ctx)
            _claim_outputs(claimed, stage, units)
            progress.console.print(
                f"[bold cyan][{index}/{len(wanted)}] {stage}[/] ({len(units)} unit(s))"
            )
            for done, unit in enumerate(units, start=1):
                results.append(_run_unit(ctx, stage, unit, force=force, fail=fail))
                if fail and fail[0] == stage and fail[2] == "after" and done >= fail[1]:
                    _kill_self(console, f"{FAIL_ENV}: killed after {done} unit(s) of {stage}")
            progress.advance(overall)
    console.rule(f"done in {time.perf_counter() - started:.1f} s")


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Limit torch and BLAS threads for the run (config `threads`), restored afterwards."""
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def _progress(console: Console):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _claim_outputs(claimed: dict[Path, str], stage: str, units: Sequence[Unit]) -> None:
    """Each output path belongs to one unit: `--force` deletes a unit's outputs before it runs,
    so a unit listing another unit's file would delete that file."""
    for unit in units:
        for path in unit.outputs:
            owner = claimed.setdefault(Path(path), f"{stage}/{unit.name}")
            if owner != f"{stage}/{unit.name}":
                raise RuntimeError(f"{path} is an output of both {owner} and {stage}/{unit.name}")


def _run_unit(
    ctx: RunContext, stage: str, unit: Unit, *, force: bool, fail: tuple | None
) -> UnitResult:
    stamp_dir = ctx.run_dir / STAMPS_DIR / stage / unit.name
    for path in unit.requires:
        if not Path(path).exists():
            raise InputError(
                f"stage {stage!r} needs {path}; run the stage that writes it first "
                f"(or the whole pipeline)",
                file=ctx.run_dir,
            )
    inputs_hash = hash_inputs(stage, unit.name, *unit.inputs)
    label = f"  {stage}: {unit.name}"
    if not force and is_fresh(stamp_dir, inputs_hash):
        # Inputs match; the outputs must too, or a hand-edited or lost output would be trusted.
        changed = _changed_output(ctx.run_dir, stamp_dir, unit.outputs)
        if changed is None:
            ctx.console.print(f"{label} [dim]skipped (inputs unchanged)[/]")
            return UnitResult(stage, unit.name, "skipped", 0.0)
        ctx.console.print(f"{label} [yellow]re-running: {changed}[/]")
    if force:
        for path in unit.outputs:
            _remove(Path(path))
    shutil.rmtree(stamp_dir, ignore_errors=True)
    progress = ctx.progress
    task = progress.add_task(f"{stage}: {unit.name}", total=None) if progress else None
    step = _step_callback(ctx.console, stage, fail, progress, task)
    start = time.perf_counter()
    ctx.console.print(f"{label} ...")
    try:
        unit.run(step)
    finally:
        if progress is not None:
            progress.remove_task(task)
    missing = [str(p) for p in unit.outputs if not Path(p).exists()]
    if missing:
        raise RuntimeError(f"stage {stage!r} unit {unit.name!r} did not write {missing}")
    seconds = time.perf_counter() - start
    write_stamp(
        stamp_dir,
        inputs_hash,
        stage=stage,
        unit=unit.name,
        seconds=round(seconds, 3),
        outputs={_output_key(ctx.run_dir, p): output_fingerprint(p) for p in unit.outputs},
    )
    ctx.console.print(f"{label} [green]done[/] in {seconds:.1f} s")
    return UnitResult(stage, unit.name, "ran", seconds)


def _output_key(run_dir: Path, path: Path) -> str:
    """An output's name in its stamp: relative to the run folder when inside it, so a moved run
    folder (or one named by a relative path from elsewhere) keeps its stamps."""
    path = Path(path)
    try:
        return path.relative_to(run_dir).as_posix()
    except ValueError:
        return str(path)


def _changed_output(run_dir: Path, stamp_dir: Path, outputs: Sequence[Path]) -> str | None:
    """Why a finished unit's outputs can't be trusted (an output edited, missing, or a stamp
    from before outputs were recorded), or None when each matches its stamped fingerprint."""
    try:
        recorded = json.loads((stamp_dir / STAMP_NAME).read_text()).get("outputs")
    except (OSError, json.JSONDecodeError):
        recorded = None
    if not isinstance(recorded, dict):
        return "its stamp records no output fingerprints"
    for path in outputs:
        key = _output_key(run_dir, path)
        if key not in recorded:
            return f"{path} is not in its stamp"
        current = output_fingerprint(path)
        if current is None:
            return f"output {path} is missing"
        if current != recorded[key]:
            return f"output {path} changed since it was written"
    return None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _parse_fail_env() -> tuple[str, int, str] | None:
    value = os.environ.get(FAIL_ENV, "").strip()
    if not value:
        return None
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[1].isdigit() or parts[0] not in STAGE_NAMES:
        raise InputError(f"{FAIL_ENV} must look like <stage>:<n>[:inside], got {value!r}")
    mode = parts[2] if len(parts) == 3 else "after"
    if mode not in ("after", "inside"):
        raise InputError(f"{FAIL_ENV} mode must be 'inside' when given, got {mode!r}")
    return parts[0], int(parts[1]), mode


def _step_callback(
    console: Console, stage: str, fail: tuple | None, progress=None, task=None
) -> Callable[..., None]:
    """A progress callback for stage functions (`step()` or `step(done, total)`); honours
    `<stage>:<n>:inside` crash injection."""
    count = 0

    def step(done: int | None = None, total: int | None = None) -> None:
        nonlocal count
        count += 1
        if progress is not None:
            progress.update(task, completed=count if done is None else done, total=total)
        if fail and fail[0] == stage and fail[2] == "inside" and count >= fail[1]:
            _kill_self(console, f"{FAIL_ENV}: killed inside {stage} after {count} step(s)")

    return step


def _kill_self(console: Console, message: str) -> None:
    console.print(f"[red]{message}[/]")
    os.kill(os.getpid(), signal.SIGKILL)
