"""`mimicry effort`: per-token probes of remaining effort along the trace, every model read on the
teacher's traces and on its own; reads RUN (items.csv, traces/, activations/*/manifest.json for
each model's weights and prompt template) and writes RUN/effort/. The probes' options are the
fields of `EffortConfig` (the run config's `effort` section)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from mimicry.data.errors import InputError
from mimicry.data.models import read_roster
from mimicry.experiments.commands.options import config_options
from mimicry.probes.capture.config import AlongCaptureConfig
from mimicry.probes.config import EffortConfig


def _pairs(text: str | None, field: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"bad entry {part!r}; use NAME=PATH", field=field)
        out[key.strip()] = value.strip()
    return out


def read_run_items(run: Path):
    """RUN/items.csv; without a `group` column every item is its own CV group."""
    import pandas as pd

    from mimicry.probes.probing.run_reader import read_item_table

    path = run / "items.csv"
    items = read_item_table(path)
    if "group" not in pd.read_csv(path, nrows=0).columns:
        items["group"] = items["item_id"].astype(str)
    return items


def read_run_trace_frames(run: Path, known: set[str]) -> dict[str, object]:
    """traces/<model>.jsonl -> frame (item_id, sample, reasoning, parse_error); model = file stem."""
    import pandas as pd

    frames = {}
    from mimicry.data.textfile import parse_json_object, read_utf8

    for path in sorted((run / "traces").glob("*.jsonl")):
        lines = [
            parse_json_object(line, path, number)
            for number, line in enumerate(read_utf8(path).splitlines(), start=1)
            if line.strip()
        ]
        frame = pd.DataFrame(lines).reindex(
            columns=["item_id", "sample", "reasoning", "parse_error"]
        )
        frame["item_id"] = frame["item_id"].astype(str)
        frame["sample"] = frame["sample"].fillna(0).astype(int)
        frame["reasoning"] = frame["reasoning"].fillna("").astype(str)
        frame["parse_error"] = frame["parse_error"].fillna("").astype(str)
        unknown = ~frame["item_id"].isin(known)
        if unknown.any():
            raise InputError(
                f"trace of an item not in items.csv ({frame['item_id'][unknown].iloc[0]!r})",
                file=path,
                field="item_id",
            )
        frames[path.stem] = frame
    return frames


def model_manifests(run: Path) -> dict[str, dict]:
    """Per captured model: its manifest (source weights, template, think tags)."""
    found = {}
    for path in sorted((run / "activations").glob("*/manifest.json")):
        found[path.parent.name] = json.loads(path.read_text())
    return found


def _teacher(run: Path, option: str | None) -> str:
    if option:
        return option
    teachers = read_roster(run).with_role("teacher")
    return teachers[0].name if teachers else "teacher"


@config_options(EffortConfig)
@config_options(AlongCaptureConfig, param="along")
def effort(
    run: Annotated[Path, typer.Argument(help="Run directory (items.csv, traces/, activations/).")],
    models: str = typer.Option(None, help="Comma-separated models (default: all with traces)."),
    teacher: str = typer.Option(None, help="Teacher model (default roles.json, else 'teacher')."),
    sources: str = typer.Option(
        None, help="NAME=PATH,... model weights (default: each activations manifest's source)."
    ),
    random_init: bool = typer.Option(
        True, help="Read <model>__random_init (when captured) on the same texts as a baseline."
    ),
    dtype: str = typer.Option("float32", help="Model dtype."),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:N or auto."),
    trust_remote_code: bool = typer.Option(False, help="Allow custom model code."),
    *,
    config: EffortConfig,
    along: AlongCaptureConfig,
) -> None:
    """Probe the residual stream along each trace for the work left, teacher vs base vs students."""
    effort_run(
        run,
        config=config,
        models=models,
        teacher=teacher,
        sources=sources,
        along=along,
        random_init=random_init,
        dtype=dtype,
        device=device,
        trust_remote_code=trust_remote_code,
    )


def effort_run(
    run: Path,
    *,
    config: EffortConfig,
    models: str | None,
    teacher: str | None,
    sources: str | None,
    along: AlongCaptureConfig,
    random_init: bool,
    dtype: str,
    device: str,
    trust_remote_code: bool,
    say: Callable[[str], None] = print,
) -> None:
    """The effort stage over a run folder (`mimicry effort` and the pipeline): the probes'
    options are `config`, the along-trace capture's batching `along`; the rest say which models
    to read and how to load them. `say` gets one line per model and one at the end (the
    pipeline turns them into its own progress display)."""
    from mimicry.data.lock import run_lock

    if not run.is_dir():
        raise InputError("no such run folder", file=run, field="run")
    with run_lock(run):  # one writer per run folder, as every stage command
        from mimicry.data.fileio import model_fingerprint
        from mimicry.probes.capture.along import AlongOptions
        from mimicry.probes.loading import load_causal_lm, load_tokenizer
        from mimicry.probes.probing.effort_study import combine, effort_model, write_effort

        items = read_run_items(run)
        traces = read_run_trace_frames(run, set(items["item_id"].astype(str)))
        manifests = model_manifests(run)
        weights = {n: m["source"] for n, m in manifests.items() if m.get("source")}
        weights.update(_pairs(sources, "sources"))
        roster = read_roster(run, manifests)
        available = [n for n in traces if n in weights and not roster.is_random_init(n)]
        chosen = [p.strip() for p in models.split(",") if p.strip()] if models else available
        missing = [m for m in chosen if m not in available]
        if missing:
            raise InputError(
                f"model {missing[0]!r} needs traces/{missing[0]}.jsonl and weights (have: {available})",
                field="models",
            )
        teacher_name = _teacher(run, teacher)
        if teacher_name not in traces:
            raise InputError(f"no traces of the teacher {teacher_name!r}", field="teacher")
        results = []
        for name in chosen:
            manifest = manifests.get(name, {})
            options = AlongOptions(
                fractions=config.fractions,
                every=config.every,
                template=manifest.get("prompt_convention") or manifest.get("template", "raw"),
                think_tags=tuple(manifest.get("think_tags", ("<think>", "</think>"))),
                **along.model_dump(),
            )
            load = {"trust_remote_code": trust_remote_code}
            model = load_causal_lm(weights[name], dtype=dtype, device=device, **load)
            tokenizer = load_tokenizer(weights[name], **load)
            baseline, random_key = None, None
            record = roster.baseline_of(name)
            random_source = manifests.get(record.name, {}).get("source") if record else None
            if random_init and random_source and Path(random_source).exists():
                baseline = (
                    load_causal_lm(random_source, dtype=dtype, device=device, **load),
                    load_tokenizer(random_source, **load),
                )
                random_key = model_fingerprint(random_source)
            say(f"effort: {name}{' (+ random init)' if baseline else ''}")
            results.append(
                effort_model(
                    model,
                    tokenizer,
                    name,
                    items,
                    traces,
                    run / "effort",
                    teacher=teacher_name,
                    options=options,
                    config=config,
                    random_init=baseline,
                    model_key=[model_fingerprint(weights[name]), dtype],
                    random_key=random_key,
                )
            )
            del model, baseline
        out = write_effort(combine(results, teacher_name, config), run / "effort")
        say(f"wrote {out} and effort_bins.csv, effort_compare.csv, effort_predictions.csv")


def register(app: typer.Typer) -> None:
    """Attach `effort`."""
    app.command("effort")(effort)
