"""The run config: validation errors are one line naming file, YAML line and field; help lists
every option; the shipped configs validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimicry.data.errors import InputError
from mimicry.experiments.cli import run
from mimicry.experiments.config import RunConfig, config_help, dump_config, load_config

CONFIGS = Path(__file__).resolve().parent.parent / "experiments" / "configs"


@pytest.mark.parametrize("name", ["organism.yaml", "organism-smoke.yaml"])
def test_shipped_configs_validate(name):
    config = load_config(CONFIGS / name)
    assert config.models.teacher.source == "organism:teacher"
    assert config.stages[0] == "data" and config.stages[-1] == "report"
    assert RunConfig.model_validate(__import__("yaml").safe_load(dump_config(config))) == config


@pytest.mark.parametrize(
    ("text", "row", "field", "words"),
    [
        ("name: x\ndistill:\n  epochs: -1\n", 3, "distill.epochs", "greater than 0"),
        (
            "name: x\ndistill:\n  conditions: [original, bogus]\n",
            3,
            "distill.conditions.1",
            "original",
        ),
        ("name: x\ncapture:\n  positon: [last_prompt]\n", 3, "capture.positon", "unknown option"),
        ("seed: zero\n", 1, "seed", "integer"),
        (
            "models:\n  teacher: {trust_remote_code: false}\n",
            2,
            "models.teacher.source",
            "required",
        ),
    ],
)
def test_validation_error_names_file_line_and_field(tmp_path, text, row, field, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: row {row}: field '{field}':")
    assert words in message and "\n" not in message


def test_invalid_yaml_and_missing_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="invalid YAML"):
        load_config(path)
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "absent.yaml")


def test_cli_run_bad_config_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("generate:\n  samples: 0\n")
    out = tmp_path / "run"
    assert run(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "field 'generate.samples'" in err and "row 2" in err
    assert not out.exists()


def test_config_help_lists_every_option(capsys):
    lines = config_help()
    text = "\n".join(lines)
    for option in (
        "distill.conditions",
        "capture.shard_size",
        "probe.targets",
        "steer.alphas",
        "models.teacher.trust_remote_code",
        "behaviour.log_cost",
        "stages",
    ):
        assert option in text
    assert all(": " in line for line in lines)
    assert run(["config-help"]) == 0
    assert "generate.max_new_tokens" in capsys.readouterr().out
    assert run(["run", "--help-config"]) == 0
    assert "distill.epochs" in capsys.readouterr().out
