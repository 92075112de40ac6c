"""One config object per stage: the CLI's options are the model's fields (one default each), the
library functions default to the same object, and the whole run config is checked up front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from mimicry.data.errors import InputError
from mimicry.distill.config import GenerateConfig, RLConfig, SFTConfig
from mimicry.experiments.cli import build_app, run
from mimicry.experiments.commands.options import (
    build_config,
    cli_default,
    config_options,
    field_default,
    option_name,
)
from mimicry.experiments.commands.probe_cmd import GENERATION_ONLY
from mimicry.experiments.config import BehaviourConfig, RunConfig, load_config
from mimicry.probes.capture.config import AlongCaptureConfig, CaptureConfig
from mimicry.probes.config import EffortConfig, ProbeConfig
from mimicry.probes.steer_config import SteerConfig

# command -> [(a config model, the fields of it the command does not offer)]
CONVERTED = {
    "behaviour": [(BehaviourConfig, ())],
    "probe": [(ProbeConfig, ())],
    "effort": [(EffortConfig, ()), (AlongCaptureConfig, ())],
    "generate": [(GenerateConfig, ())],
    "distill": [(SFTConfig, ())],
    "rl": [(RLConfig, ())],
    "capture": [(CaptureConfig, ())],
    "steer": [(SteerConfig, ()), (GenerateConfig, GENERATION_ONLY)],
}


def _click_command(name: str):
    return typer.main.get_command(build_app()).commands[name]


def _config_params(name: str) -> dict[str, object]:
    """The click options of `name` that come from its config models, by field name."""
    fields = {f for model, _ in CONVERTED[name] for f in model.model_fields}
    return {p.name: p for p in _click_command(name).params if p.name in fields}


@pytest.mark.parametrize("command", sorted(CONVERTED))
def test_cli_options_are_the_config_fields_with_their_defaults(command):
    params = _config_params(command)
    offered_by = {
        name: model
        for model, excluded in CONVERTED[command]
        for name in model.model_fields
        if name not in excluded
    }
    assert set(params) == set(offered_by)
    every_option = [opt for p in _click_command(command).params for opt in p.opts]
    assert len(every_option) == len(set(every_option)), "an option is declared twice"
    for name, model in offered_by.items():
        field = model.model_fields[name]
        param = params[name]
        assert option_name(name) in param.opts
        assert param.default == cli_default(field), name
        assert (param.help or "").startswith(field.description), name
    # the command line's defaults, parsed as the command parses them, are the model's defaults
    for model, _ in CONVERTED[command]:
        defaults = {n: params[n].default for n, m in offered_by.items() if m is model}
        assert build_config(model, defaults) == model()


def test_library_cli_and_yaml_share_the_behaviour_defaults(tmp_path):
    from mimicry.experiments.behaviour import alignment, score

    items, traces = _behaviour_inputs(tmp_path)
    tables = alignment(traces_frame(traces), _read_items(items))
    assert tables.options == BehaviourConfig()
    result_dir = tmp_path / "lib"
    score(items, traces, result_dir)
    settings = json.loads((result_dir / "settings.json").read_text())
    assert {k: settings[k] for k in BehaviourConfig.model_fields} == BehaviourConfig().model_dump()
    cli_dir = tmp_path / "cli"
    assert (
        run(["behaviour", "--items", str(items), "--traces", str(traces), "--out", str(cli_dir)])
        == 0
    )
    assert json.loads((cli_dir / "settings.json").read_text()) == settings
    for name in ("alignment.csv", "summary.csv", "inflation.csv", "wrong_right.csv"):
        assert (cli_dir / name).read_bytes() == (result_dir / name).read_bytes(), name
    yaml_default = RunConfig().behaviour
    assert yaml_default == BehaviourConfig()
    assert BehaviourConfig().n_boot == 2000 and BehaviourConfig().n_perm == 2000


class Small(BaseModel):
    flag: bool = True
    names: list[str] = ["a", "b"]
    maybe: tuple[float, ...] | None = None


def test_library_cli_and_yaml_share_the_probe_defaults(tmp_path):
    """`probe_layers` and `run_probes` called without options probe what `mimicry probe` and a
    run config without a `probe` section probe: the one ProbeConfig's defaults."""
    import numpy as np
    import pandas as pd

    from mimicry.probes.probing import probe_layers

    assert RunConfig().probe == ProbeConfig()
    assert ProbeConfig().targets == ["human_rt", "own_length", "correct", "difficulty_bin"]
    rng = np.random.default_rng(0)
    n = 30
    items = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(n)],
            "task": ["t"] * n,
            "group": [f"g{k % 10}" for k in range(n)],
            "prompt": ["p"] * n,
            "answer": ["a"] * n,
            "human_rt_ms": rng.uniform(500, 3000, n),
            "human_acc": rng.uniform(0.3, 0.9, n),
            "feat_premises": rng.integers(2, 5, n),
        }
    )
    acts = rng.normal(size=(n, 3, 4)).astype(np.float32)
    small = {"n_boot": 10, "n_perm": 10, "alphas": (1.0,)}
    table = probe_layers(acts, items, **small).table
    # without traces: the default targets that need none (own_length, correct need traces)
    assert sorted(table["target"].unique()) == ["difficulty_bin", "human_rt"]
    explicit = probe_layers(acts, items, config=ProbeConfig(**small)).table
    pd.testing.assert_frame_equal(table, explicit)


def test_effort_defaults_are_one_object():
    """The effort probes, `mimicry effort` and the run config's `effort` section: one default
    each; the fractions read by default are the along-trace capture's own default."""
    import inspect

    from mimicry.probes.capture.along import AlongOptions
    from mimicry.probes.probing.effort import EFFORT_TARGETS, probe_effort

    assert RunConfig().effort == EffortConfig()
    assert EffortConfig().n_boot == 300 and EffortConfig().folds == 5
    assert EffortConfig().fractions == AlongOptions().fractions
    assert EffortConfig().targets == EFFORT_TARGETS
    assert inspect.signature(probe_effort).parameters["config"].default is None  # -> EffortConfig()
    with pytest.raises(ValueError, match="give fractions"):
        EffortConfig(fractions=(), every=0)


def test_bool_options_have_a_negative_form_and_lists_are_comma_text():
    @config_options(Small)
    def command(*, config: Small) -> None:
        print(config.model_dump_json())

    app = typer.Typer()
    app.command()(command)
    params = {p.name: p for p in typer.main.get_command(app).params}
    assert params["flag"].opts == ["--flag"] and params["flag"].secondary_opts == ["--no-flag"]
    assert params["names"].default == "a,b" and params["maybe"].default is None
    config = build_config(Small, {"flag": False, "names": "x, y", "maybe": "0.5,1"})
    assert config == Small(flag=False, names=["x", "y"], maybe=(0.5, 1.0))
    assert build_config(Small, {"flag": True, "names": "none", "maybe": "none"}) == Small(
        names=[], maybe=None
    )
    with pytest.raises(InputError, match="field 'maybe': --maybe: "):
        build_config(Small, {"flag": True, "names": "a", "maybe": "1,x"})
    with pytest.raises(InputError, match="field 'names'.*empty entry"):
        build_config(Small, {"flag": True, "names": "a,,b", "maybe": None})
    assert field_default(Small.model_fields["names"]) == ["a", "b"]


def test_a_command_cannot_declare_a_config_option_again():
    def command(n_boot: int = 3, *, config: BehaviourConfig) -> None:
        pass

    with pytest.raises(TypeError, match="n_boot"):
        config_options(BehaviourConfig)(command)


def test_run_refuses_a_bad_stage_option_before_any_stage(tmp_path, capsys, monkeypatch):
    """`behaviour.n_boot: 5` used to pass the config and fail at stage 6, after distillation."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "study.yaml"
    path.write_text("name: early\nseed: 0\nbehaviour:\n  min_items: 5\n  n_boot: 5\n")
    out = tmp_path / "run"
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert f"{path}: row 5: field 'behaviour.n_boot'" in err[0] and "10" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize(
    ("text", "row", "field", "words"),
    [
        ("steer:\n  model: nobody\n", 2, "steer.model", "not a model of this run"),
        ("behaviour:\n  reference: nobody\n", 2, "behaviour.reference", "not a model of this run"),
        ("tasks:\n  items_file: absent.csv\n", 2, "tasks.items_file", "no such item table"),
        ("behaviour: {n_perm: 3}\n", 1, "behaviour.n_perm", "greater than or equal to 10"),
        ("behaviour: {min_items: 2}\n", 1, "behaviour.min_items", "greater than or equal to 3"),
        (
            "capture: {positions: [last_prompt]}\nprobe:\n  positions: [mean_trace]\n",
            3,
            "probe.positions.0",
            "not captured",
        ),
    ],
)
def test_whole_run_config_is_checked_when_loaded(tmp_path, text, row, field, words):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: row {row}: field '{field}':"), message
    assert words in message


def test_run_config_built_in_python_gets_the_same_checks(tmp_path):
    with pytest.raises(ValueError, match="steer.model"):
        RunConfig(steer={"model": "nobody"})
    with pytest.raises(ValueError, match="no such item table"):
        RunConfig(tasks={"items_file": tmp_path / "absent.csv"})
    with pytest.raises(ValueError, match="n_boot"):
        RunConfig(behaviour={"n_boot": 5})


def test_stage_seeds_follow_the_run_seed_unless_set():
    config = RunConfig(seed=7, probe={"folds": 3})
    assert config.behaviour.seed == config.probe.seed == config.effort.seed == 7
    assert RunConfig(seed=7, behaviour={"seed": 1}).behaviour.seed == 1
    assert RunConfig(seed=4, probe=RunConfig().probe.model_copy()).probe.seed == 0  # set: kept


# --- inputs ------------------------------------------------------------------------------------


def _behaviour_inputs(tmp: Path) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    rows, lines = [], []
    for i in range(12):
        rt = float(rng.uniform(500, 3000))
        rows.append(f"i{i},rel,p{i},yes,{rt:.1f},0.8,20")
        for model, factor in (("teacher", 1.0), ("base", 1.5)):
            tokens = int(20 + rt / 30 * factor + rng.normal(0, 5))
            line = {"item_id": f"i{i}", "model": model, "sample": 0, "reasoning": "so"}
            lines.append(line | {"answer": "yes", "correct": True, "n_reasoning_tokens": tokens})
    items = tmp / "items.csv"
    items.write_text(
        "item_id,task,prompt,answer,human_rt_ms,human_acc,n_humans\n" + "\n".join(rows) + "\n"
    )
    traces = tmp / "traces.jsonl"
    traces.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return items, traces


def _read_items(path: Path):
    from mimicry.data.items import read_items

    return read_items(path)


def traces_frame(path: Path):
    import pandas as pd

    return pd.read_json(path, lines=True)


def test_report_options_are_the_one_report_config(tmp_path, capsys):
    """`mimicry report` takes its options from RUN/config.yaml's `report` section on the one
    ReportConfig's defaults; a bad value there is one line naming file, line and field."""
    from mimicry.experiments.config import ReportConfig

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("name: x\n")
    assert run(["report", str(run_dir)]) == 0
    index = (run_dir / "report" / "index.html").read_text()
    assert f"<h1>{ReportConfig().title}</h1>" in index
    assert RunConfig().report == ReportConfig()
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.yaml").write_text("name: x\nreport:\n  title: t\n  n_perm: 0\n")
    capsys.readouterr()
    assert run(["report", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"{other / 'config.yaml'}: row 4: field 'report.n_perm'" in err[0]
    assert sorted(p.name for p in other.iterdir()) == ["config.yaml"]
