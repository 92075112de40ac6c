"""Pre-generated traces (e.g. DeepSeek-R1 answers from an API) standing in for generation.

The user's file may cover more items than the run evaluates (eval and training prompts in one
file): only the lines of the run's items are kept, renamed to the run's model name so capture
and behaviour find them. The file is validated as a trace file on the way.
"""

from __future__ import annotations

import json
from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.items import read_items
from mimicry.data.traces import read_traces, write_traces


def copy_traces(source: Path, items: Path, out: Path, *, name: str) -> int:
    """Copy the lines of `source` whose item is in `items` to `out` as model `name`; return the
    number of lines kept."""
    read_traces(source)  # structural errors name the user's file and line
    wanted = set(read_items(items)["item_id"].astype(str))
    rows = []
    with Path(source).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"not valid JSON: {error.msg}", file=source, row=number) from None
            if not isinstance(row, dict) or "item_id" not in row:
                raise InputError("a trace line needs an item_id", file=source, row=number)
            if str(row["item_id"]) in wanted:
                rows.append({**row, "item_id": str(row["item_id"]), "model": name})
    if not rows:
        raise InputError(
            f"no trace of any of the run's {len(wanted)} items (item ids must match items.csv)",
            file=source,
            field="item_id",
        )
    write_traces(rows, out)
    return len(rows)
