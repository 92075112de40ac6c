"""The CLI shell: commands register, bad input exits 2 with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimicry.data.errors import InputError
from mimicry.data.fileio import atomic_dir, hash_inputs, is_fresh, write_stamp
from mimicry.experiments.cli import run


def test_versions_lists_the_stack(capsys):
    assert run(["versions"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "nnsight" in out


def test_input_error_names_file_row_field():
    error = InputError("not a number: 'abc'", file="items.csv", row=3, field="human_rt_ms")
    assert str(error) == "items.csv: row 3: field 'human_rt_ms': not a number: 'abc'"


def test_atomic_dir_leaves_nothing_on_failure(tmp_path: Path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "partial.csv").write_text("x\n")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_stamp_detects_changed_inputs(tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    out = tmp_path / "stage"
    with atomic_dir(out) as tmp:
        write_stamp(tmp, hash_inputs(source, {"seed": 0}))
    assert is_fresh(out, hash_inputs(source, {"seed": 0}))
    source.write_text("a\n2\n")
    assert not is_fresh(out, hash_inputs(source, {"seed": 0}))


def test_exclusions_ledger_counts_and_writes(tmp_path: Path):
    from mimicry.data.exclusions import Exclusions

    ledger = Exclusions()
    ledger.add("behaviour", "missing_norm", model="m", task="t", example="i1")
    ledger.add("behaviour", "missing_norm", model="m", task="t", example="i2")
    ledger.add("behaviour", "unparseable_line", model="m", n=3)
    assert ledger.total() == 5
    assert ledger.total(task="t") == 2
    ledger.write_csv(tmp_path / "exclusions.csv")
    lines = (tmp_path / "exclusions.csv").read_text().splitlines()
    assert lines[0] == "stage,model,task,reason,n,example"
    assert "behaviour,m,t,missing_norm,2,i1" in lines


def test_atomic_outputs_are_readable_by_others(tmp_path: Path):
    import os
    import stat

    from mimicry.data.fileio import atomic_file

    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "table.csv") as tmp:
            tmp.write_text("a\n")
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "table.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
