"""Dynamic allocation measured inside: each model read on the teacher's traces and on its own.

Reading a student on the teacher's traces asks whether its residual stream tracks the work left
in a trace it did not write (the teacher's allocation); reading it on its own traces asks whether
it tracks its own allocation (tokens remaining then count its own trace). The teacher's two
readings are the same texts, captured once. Everything here works on objects in memory; the
`mimicry effort` command only loads models one at a time and writes the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_file
from mimicry.data.models import random_init_name
from mimicry.probes.capture.along import AlongOptions, capture_along, parsed_reasoning
from mimicry.probes.probing.effort import (
    BIN_COLUMNS,
    EFFORT_COLUMNS,
    PREDICTION_COLUMNS,
    EffortConfig,
    probe_effort,
)
from mimicry.probes.probing.effort_curves import COMPARE_COLUMNS, compare_to_teacher
from mimicry.probes.probing.effort_fit import STAGE

READINGS = ("teacher_traces", "own_traces")


@dataclass
class EffortResult:
    """Tables of one or more models (see `effort.EFFORT_COLUMNS` and friends)."""

    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(EFFORT_COLUMNS)))
    bins: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(BIN_COLUMNS)))
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    )
    compare: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(COMPARE_COLUMNS))
    )
    exclusions: Exclusions = field(default_factory=Exclusions)


def _concat(frames: list[pd.DataFrame], columns) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))


def effort_model(
    model,
    tokenizer,
    name: str,
    items: pd.DataFrame,
    traces: dict[str, pd.DataFrame],
    work_dir: str | Path,
    *,
    teacher: str,
    options: AlongOptions | None = None,
    config: EffortConfig | None = None,
    random_init: tuple | None = None,
    model_key: object = None,
    random_key: object = None,
) -> EffortResult:
    """Capture and probe one model on the teacher's traces and on its own.

    Args:
        model, tokenizer: the loaded model (eval mode) and its tokenizer.
        name: the model's name in the run (`traces[name]` are its own traces).
        items: item table (item_id, task, prompt, human_rt_ms, group, feat_*).
        traces: model name -> trace frame (item_id, sample, reasoning, parse_error).
        work_dir: where along-trace activations go (`activations/<name>/<reading>/`).
        teacher: whose traces are "teacher_traces".
        random_init: (model, tokenizer) of the same architecture at random init, read on the same
            texts as the `random_init` baseline; None leaves that baseline out.
        model_key, random_key: weight identities, so up-to-date captures are reused.
    """
    options, config = options or AlongOptions(), config or EffortConfig()
    result, work_dir = EffortResult(), Path(work_dir)
    fits = []
    for reading in READINGS:
        source = teacher if reading == "teacher_traces" else name
        if source not in traces:
            result.exclusions.add(STAGE, f"no_traces_for_{reading}", model=name)
            continue
        if reading == "own_traces" and name == teacher:
            if fits:
                fits.append(_relabel(fits[0], reading))
            continue
        who = f"{name} on {reading}"
        reasoning = parsed_reasoning(traces[source], who, result.exclusions)
        acts = capture_along(
            model,
            tokenizer,
            items,
            reasoning,
            work_dir / "activations" / name / reading,
            name=name,
            options=options,
            model_key=model_key,
            exclusions=result.exclusions,
            label=who,
        )
        baseline = None
        if random_init is not None:
            baseline = capture_along(
                *random_init,
                items,
                reasoning,
                work_dir / "activations" / random_init_name(name) / reading,
                name=random_init_name(name),
                options=options,
                model_key=random_key,
                exclusions=Exclusions(),  # same texts: its exclusions repeat the model's
            )
        fits.append(
            probe_effort(
                acts,
                items,
                model=name,
                reading=reading,
                config=config,
                random_init=baseline,
                exclusions=result.exclusions,
                label=who,
            )
        )
    result.table = _concat([f.table for f in fits], EFFORT_COLUMNS)
    result.bins = _concat([f.bins for f in fits], BIN_COLUMNS)
    result.predictions = _concat([f.predictions for f in fits], PREDICTION_COLUMNS)
    return result


def _relabel(fit, reading: str):
    """The teacher's own traces are the teacher's traces: the same fit under the other name."""
    from mimicry.probes.probing.effort import EffortFit

    return EffortFit(
        fit.table.assign(reading=reading),
        fit.bins.assign(reading=reading),
        fit.predictions.assign(reading=reading),
        dict(fit.best_layer),
    )


def combine(results: list[EffortResult], teacher: str, config: EffortConfig) -> EffortResult:
    """All models' tables together, plus each model minus the teacher (paired over items)."""
    out = EffortResult()
    out.table = _concat([r.table for r in results], EFFORT_COLUMNS)
    out.bins = _concat([r.bins for r in results], BIN_COLUMNS)
    out.predictions = _concat([r.predictions for r in results], PREDICTION_COLUMNS)
    for r in results:
        out.exclusions.merge(r.exclusions)
    out.compare = compare_to_teacher(
        out.predictions, teacher, n_boot=config.n_boot, seed=config.seed
    )
    return out


TABLE_FILES = {
    "table": "effort.csv",
    "bins": "effort_bins.csv",
    "compare": "effort_compare.csv",
    "predictions": "effort_predictions.csv",
}


def write_effort(result: EffortResult, out_dir: str | Path) -> Path:
    """Write the tables (each atomically) and the exclusions ledger into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for attribute, filename in TABLE_FILES.items():
        with atomic_file(out_dir / filename) as tmp:
            getattr(result, attribute).to_csv(tmp, index=False)
    result.exclusions.write_csv(out_dir / "exclusions.csv")
    return out_dir / "effort.csv"
