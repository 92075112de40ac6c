"""The in-memory API, importable from the package root (`from mimicry import capture, ...`).

Each function is the library function the CLI and the pipeline wrap; the only addition here is
that a model may be named `organism:teacher` / `organism:base` (the shipped model organism), as
in a run config.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def resolve_model(model: Any) -> Any:
    """`organism:<which>` -> the organism's folder; anything else (a path, a hub name, a loaded
    model) unchanged."""
    from mimicry.experiments.pipeline.models import ORGANISM_PREFIX

    if isinstance(model, str) and model.startswith(ORGANISM_PREFIX):
        from mimicry.experiments.config import ModelSpec
        from mimicry.experiments.pipeline.models import resolve_source

        return resolve_source(ModelSpec(source=model))
    return model


def capture(model: Any, items: pd.DataFrame | str | Path, **options):
    """`mimicry.probes.capture.capture`, with `organism:teacher` accepted as the model."""
    from mimicry.probes.capture import capture as capture_in_memory

    return capture_in_memory(resolve_model(model), items, **options)


def generate(model: str | Path, items: pd.DataFrame | str | Path, **options) -> pd.DataFrame:
    """Traces of `model` on `items` as a DataFrame (`mimicry.distill.generate.generate`, run in
    a temporary folder that is removed afterwards; options as for `mimicry generate`)."""
    from mimicry.data.items import validate_items, write_items
    from mimicry.data.traces import read_traces
    from mimicry.distill.generate import generate as generate_file

    with tempfile.TemporaryDirectory(prefix="mimicry-generate-") as tmp:
        items_path = Path(items) if not isinstance(items, pd.DataFrame) else Path(tmp) / "items.csv"
        if isinstance(items, pd.DataFrame):
            write_items(validate_items(items), items_path)
        out = Path(tmp) / "traces.jsonl"
        generate_file(resolve_model(model), items_path, out, **options)
        frame, _ = read_traces(out)
    return frame.drop(columns=["file", "line"])
