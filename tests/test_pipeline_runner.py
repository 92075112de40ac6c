"""The runner: stage order, skip when inputs are unchanged, re-run downstream when they change,
--force, --only with a clear error for missing inputs, and the crash-injection switch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from mimicry.data.errors import InputError
from mimicry.experiments.config import RunConfig
from mimicry.experiments.pipeline import Unit, run_pipeline


def _builders(calls: list[str], source: Path):
    """data copies `source`, generate doubles it, report counts characters (all file-based)."""

    def data(ctx):
        out = ctx.run_dir / "items.csv"

        def run(step):
            calls.append("data")
            out.write_text(source.read_text())
            step()

        return [Unit("items", [source], [out], run)]

    def generate(ctx):
        items = ctx.run_dir / "items.csv"
        units = []
        for name in ("teacher", "base"):
            out = ctx.run_dir / "traces" / f"{name}.jsonl"

            def run(step, out=out, name=name):
                calls.append(f"generate:{name}")
                out.parent.mkdir(exist_ok=True)
                out.write_text(items.read_text() * 2)

            units.append(Unit(name, [items, name], [out], run, requires=[items]))
        return units

    def report(ctx):
        traces = sorted((ctx.run_dir / "traces").glob("*.jsonl"))
        out = ctx.run_dir / "report" / "index.html"

        def run(step):
            calls.append("report")
            out.parent.mkdir(exist_ok=True)
            out.write_text(str(sum(len(p.read_text()) for p in traces)))

        return [Unit("report", traces, [out], run)]

    return {"data": data, "generate": generate, "report": report}


def _config() -> RunConfig:
    return RunConfig(name="t", stages=["data", "generate", "report"])


def _quiet() -> Console:
    return Console(file=open("/dev/null", "w"))  # noqa: SIM115


def test_skips_unchanged_and_reruns_what_changed(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("abc\n")
    run_dir = tmp_path / "run"
    calls: list[str] = []
    builders = _builders(calls, source)
    first = run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    assert calls == ["data", "generate:teacher", "generate:base", "report"]
    assert [r.status for r in first] == ["ran"] * 4
    assert (run_dir / "config.yaml").read_text().startswith("name: t")

    calls.clear()
    second = run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    assert calls == [] and {r.status for r in second} == {"skipped"}

    # same content rewritten: content hashes, so nothing downstream re-runs
    source.write_text("abc\n")
    run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    assert calls == []

    source.write_text("abcd\n")
    run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    assert calls == ["data", "generate:teacher", "generate:base", "report"]
    assert (run_dir / "report" / "index.html").read_text() == str(2 * 2 * len("abcd\n"))

    calls.clear()
    (run_dir / "traces" / "base.jsonl").unlink()  # a lost output is re-made
    run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    assert calls == ["generate:base"]

    calls.clear()
    run_pipeline(_config(), run_dir, builders=builders, console=_quiet(), force=True)
    assert len(calls) == 4


def test_a_file_claimed_by_two_units_is_refused_before_force_can_delete_it(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("x\n")
    calls: list[str] = []
    builders = _builders(calls, source)
    items = tmp_path / "run" / "items.csv"
    builders["report"] = lambda ctx: [Unit("checks_items", [items], [items], lambda step: None)]
    with pytest.raises(
        RuntimeError, match=r"items\.csv is an output of both data/items and report"
    ):
        run_pipeline(_config(), tmp_path / "run", builders=builders, console=_quiet(), force=True)
    assert items.is_file()  # refused before the report unit could delete it


def test_only_runs_one_stage_and_names_missing_inputs(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("x\n")
    calls: list[str] = []
    builders = _builders(calls, source)
    with pytest.raises(InputError, match=r"needs .*items\.csv"):
        run_pipeline(
            _config(), tmp_path / "run", builders=builders, console=_quiet(), only=["generate"]
        )
    assert calls == []
    run_pipeline(_config(), tmp_path / "run", builders=builders, console=_quiet(), only=["data"])
    assert calls == ["data"]
    with pytest.raises(InputError, match="unknown stage"):
        run_pipeline(
            _config(), tmp_path / "run", builders=builders, console=_quiet(), only=["nope"]
        )


def test_unit_that_writes_nothing_is_an_error_and_leaves_no_stamp(tmp_path):
    def broken(ctx):
        return [Unit("u", [], [ctx.run_dir / "never.txt"], lambda step: None)]

    config = RunConfig(name="t", stages=["data"])
    with pytest.raises(RuntimeError, match="did not write"):
        run_pipeline(config, tmp_path / "run", builders={"data": broken}, console=_quiet())
    assert not list((tmp_path / "run").glob(".stamps/data/u/*"))


def test_fail_after_kills_the_process_and_a_rerun_resumes(tmp_path):
    """MIMICRY_FAIL_AFTER=generate:1 SIGKILLs after the first generate unit; the re-run skips it."""
    source = tmp_path / "source.txt"
    source.write_text("abc\n")
    script = tmp_path / "drive.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            from pathlib import Path
            sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
            from tests.test_pipeline_runner import _builders, _config
            from mimicry.experiments.pipeline import run_pipeline
            calls = []
            run_pipeline(_config(), Path({str(tmp_path / "run")!r}),
                         builders=_builders(calls, Path({str(source)!r})))
            print("CALLS", ",".join(calls))
            """
        )
    )
    env = {"MIMICRY_FAIL_AFTER": "generate:1", "PATH": "/usr/bin:/bin"}
    killed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert killed.returncode == -9
    assert (tmp_path / "run" / "traces" / "teacher.jsonl").exists()
    assert not (tmp_path / "run" / "traces" / "base.jsonl").exists()
    resumed = subprocess.run(
        [sys.executable, str(script)], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "CALLS generate:base,report" in resumed.stdout


def test_an_edited_or_missing_output_reruns_its_unit_only(tmp_path):
    """Stamps record output fingerprints: a hand-edited output is not trusted, and the re-run
    unit (rewriting the same content) leaves downstream units skipped."""
    source = tmp_path / "source.txt"
    source.write_text("abc\n")
    run_dir = tmp_path / "run"
    calls: list[str] = []
    builders = _builders(calls, source)
    run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    teacher = run_dir / "traces" / "teacher.jsonl"
    original = teacher.read_text()

    calls.clear()
    teacher.write_text(original[::-1])  # same size, different content
    log = tmp_path / "log.txt"
    with log.open("w") as handle:
        results = run_pipeline(
            _config(), run_dir, builders=builders, console=Console(file=handle, width=300)
        )
    assert calls == ["generate:teacher"]
    assert {r.unit: r.status for r in results} == {
        "items": "skipped",
        "teacher": "ran",
        "base": "skipped",
        "report": "skipped",
    }
    assert teacher.read_text() == original
    lines = [line for line in log.read_text().splitlines() if "re-running" in line]
    assert len(lines) == 1 and "teacher.jsonl changed" in lines[0]

    calls.clear()
    (run_dir / "report" / "index.html").unlink()
    with log.open("w") as handle:
        run_pipeline(_config(), run_dir, builders=builders, console=Console(file=handle, width=300))
    assert calls == ["report"]
    assert "index.html is missing" in log.read_text()

    calls.clear()
    run_pipeline(_config(), run_dir, builders=builders, console=_quiet())
    assert calls == []
