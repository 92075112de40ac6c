"""A real instruct model without think tags (SmolLM2-135M-Instruct): `mimicry generate` with no
prompting flags asks it to reason and mark its answer, and its traces parse with counted reasoning
tokens (issue 15: 0 of 40 parsed before)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mimicry.experiments.cli import run as cli

pytestmark = [pytest.mark.real_model, pytest.mark.slow]  # ~1-2 min of generation on a CPU


def test_generate_with_default_flags_parses_most_smollm2_traces(smollm2, tmp_path, capsys):
    items = tmp_path / "all.csv"
    assert (
        cli(["data", "export", "relational_3ps", "cardinal_directions", "--out", str(items)]) == 0
    )
    table = pd.read_csv(items)
    subset = pd.concat([table[table["task"] == t].head(2) for t in sorted(set(table["task"]))])
    subset.to_csv(tmp_path / "items.csv", index=False)
    out = tmp_path / "traces.jsonl"
    args = ["generate", "--model", str(smollm2), "--items", str(tmp_path / "items.csv")]
    assert cli([*args, "--out", str(out), "--device", "cpu"]) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    parsed = [r for r in rows if not r["parse_error"]]
    assert len(rows) == 4 and len(parsed) >= len(rows) / 2, [r.get("generation") for r in rows]
    assert all(r["n_reasoning_tokens"] > 0 and r["answer"] for r in parsed)
    assert all(r["n_reasoning_tokens"] < r["n_generated_tokens"] for r in parsed)
