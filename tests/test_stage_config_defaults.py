"""One config object per stage for generate, the SFT and GRPO students, capture, steer and the
along-trace capture: the library functions run on the config's defaults (measured on tiny real
models), the run config's sections are those classes, and a bad value in a section stops
`mimicry run` before any stage with one line naming the field."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
import torch

from mimicry.distill.config import GenerateConfig, RLConfig, SFTConfig
from mimicry.experiments.cli import run
from mimicry.experiments.config import RunConfig
from mimicry.probes.capture.config import PROMPT_POSITIONS, AlongCaptureConfig, CaptureConfig
from mimicry.probes.steer_config import SteerConfig
from tests.tiny_models import make_tiny_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PROMPTS = [f"Is {a} left of {b} ?" for a in "ABCDE" for b in "WXYZ"]  # 20 items


@pytest.fixture(scope="module")
def items_and_model(tmp_path_factory):
    """20 items and a random-init Qwen2 whose vocabulary covers them (it never closes a think
    block, so every generation runs to its budget or an end token)."""
    root = tmp_path_factory.mktemp("defaults")
    items = root / "items.csv"
    pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(len(PROMPTS))],
            "task": ["t"] * len(PROMPTS),
            "prompt": PROMPTS,
            "answer": ["yes"] * len(PROMPTS),
        }
    ).to_csv(items, index=False)
    return items, make_tiny_model(root / "model", "qwen2", texts=PROMPTS)


def test_generate_without_options_samples_with_the_generate_config(items_and_model, tmp_path):
    from mimicry.distill.generate import generate

    items, model = items_and_model
    defaults = GenerateConfig()
    assert (defaults.max_new_tokens, defaults.batch_size) == (128, 16)
    assert RunConfig().generate == defaults
    totals = []
    out = tmp_path / "traces.jsonl"
    summary = generate(model, items, out, on_batch=lambda done, total: totals.append(total))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary.n_rows == len(rows) == len(PROMPTS) * defaults.samples
    assert totals and set(totals) == {-(-len(PROMPTS) // defaults.batch_size)}  # 2 batches of 16
    budget = [r["n_generated_tokens"] for r in rows if not r["finished"]]
    assert budget, "a random model should run out of budget on some item"
    assert set(budget) == {defaults.max_new_tokens}
    assert max(r["n_generated_tokens"] for r in rows) == defaults.max_new_tokens
    # the same file from the explicit config: skipped, the inputs hash is the same
    assert generate(model, items, out, config=GenerateConfig()).skipped


def test_capture_without_options_reads_the_capture_config(items_and_model):
    from mimicry.probes.capture import capture

    items, model = items_and_model
    defaults = CaptureConfig()
    result = capture(model, items)
    manifest = result.manifest
    assert manifest["batch_size_requested"] == defaults.batch_size == 16
    assert manifest["shard_size"] == defaults.shard_size == 256
    assert manifest["backend"] == defaults.backend
    assert tuple(result.positions) == PROMPT_POSITIONS == defaults.positions_for(False)
    assert result.attention_entropy is not None  # entropy on by default
    explicit = capture(model, items, config=CaptureConfig(batch_size=16, entropy=False))
    assert explicit.attention_entropy is None
    torch.testing.assert_close(explicit["last_prompt"], result["last_prompt"])
    section = RunConfig().capture
    assert CaptureConfig(**section.model_dump(include=set(CaptureConfig.model_fields))) == defaults


def test_capture_overrides_are_checked_as_the_config_checks_them(items_and_model):
    from mimicry.data.errors import InputError
    from mimicry.probes.capture import capture

    items, model = items_and_model
    with pytest.raises(InputError, match="shard_size"):
        capture(model, items, shard_size=0)
    with pytest.raises(InputError, match="batch_sise"):
        capture(model, items, batch_sise=2)  # a misspelt option is never ignored


def test_steer_without_options_uses_the_steer_config(items_and_model, tmp_path):
    from mimicry.probes.directions import save_directions
    from mimicry.probes.steer import steer_run

    items, model = items_and_model
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pd.read_csv(items).to_csv(run_dir / "items.csv", index=False)
    d_model = json.loads((model / "config.json").read_text())["hidden_size"]
    direction = np.zeros((3, d_model), dtype=np.float32)
    direction[:, 0] = 1.0
    save_directions(
        run_dir / "probes" / "directions" / "m" / "last_prompt.safetensors",
        {"direction": direction, "resid_norm": np.full(3, 5.0, dtype=np.float32)},
    )
    out = steer_run(model, run_dir, name="m", max_new_tokens=4, batch_size=16)
    table = pd.read_csv(out)
    defaults = SteerConfig()
    assert sorted(table["alpha"]) == sorted(set(defaults.alphas) | {0.0})
    assert set(table["position"]) == {defaults.position}
    # no layer given and no probes.csv or manifest: the middle of the (2) layers
    assert set(table["layer"]) == {1}
    assert set(table["n_items"]) == {len(PROMPTS)}  # n_items None: every item
    assert RunConfig().steer.steer_config() == defaults
    assert inspect.signature(steer_run).parameters["config"].default is None


def test_student_training_defaults_are_one_object(tmp_path):
    """train_student records the SFTConfig it trained with; its defaults are the run config's
    `distill` defaults; the RL students share LoRA and seed unless `distill.rl` sets them."""
    from mimicry.distill.rl import train_rl_student
    from mimicry.distill.sft import train_student

    rows = [
        {"item_id": f"i{k}", "prompt": p, "completion": "<think> so </think> yes"}
        for k, p in enumerate(PROMPTS[:4])
    ]
    data = tmp_path / "set"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = make_tiny_model(tmp_path / "base", "gpt2", texts=PROMPTS + ["<think> so </think> yes"])
    out = tmp_path / "student"
    summary = train_student(base, data, out, max_steps=2)
    assert summary.steps == 2
    stamp = json.loads((out / ".mimicry-stamp.json").read_text())
    recorded = {k: stamp["options"][k] for k in SFTConfig.model_fields}
    assert recorded == SFTConfig(max_steps=2).model_dump(mode="json")
    assert SFTConfig().lr == 5e-5 and SFTConfig(lora=True).lr == 2e-4
    assert RLConfig().lr == 2e-5 and RLConfig(lora=True).lr == 1e-4
    section = RunConfig().distill
    assert SFTConfig(**section.model_dump(include=set(SFTConfig.model_fields))) == SFTConfig()
    assert section.rl == RLConfig()
    assert inspect.signature(train_rl_student).parameters["config"].default is None
    shared = RunConfig(seed=5, distill={"lora": True, "lora_r": 4, "rl": {"lora_r": 2}})
    assert shared.distill.seed == shared.distill.rl.seed == 5
    assert shared.distill.rl.lora is True and shared.distill.rl.lora_r == 2


def test_along_trace_batching_is_declared_once():
    """The effort stage's batching (CLI, pipeline and along-trace capture) is AlongCaptureConfig."""
    from mimicry.probes.capture.along import AlongOptions

    defaults = AlongCaptureConfig()
    assert (defaults.max_batch_tokens, defaults.shard_rows, defaults.batch_size) == (16384, 2048, 8)
    options = AlongOptions()
    assert {k: getattr(options, k) for k in AlongCaptureConfig.model_fields} == (
        defaults.model_dump()
    )
    assert AlongOptions(batch_size=3).max_batch_tokens == defaults.max_batch_tokens


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ("generate:\n  batch_size: 0\n", "generate.batch_size", "greater than 0"),
        ("generate:\n  backend: tgi\n", "generate.backend", "hf"),
        ("capture:\n  shard_size: 0\n", "capture.shard_size", "greater than 0"),
        ("capture:\n  entropy_method: fast\n", "capture.entropy_method", "chunked"),
        ("steer:\n  alphas: [.nan]\n", "steer.alphas", "finite"),
        ("steer:\n  layer: 0\n", "steer.layer", "greater than or equal to 1"),
        ("distill:\n  grad_accum: 0\n", "distill.grad_accum", "greater than 0"),
        ("distill:\n  rl:\n    num_generations: 1\n", "distill.rl.num_generations", "2"),
    ],
)
def test_run_refuses_a_bad_section_before_any_stage(
    tmp_path, capsys, monkeypatch, section, field, words
):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "study.yaml"
    path.write_text("name: early\nseed: 0\n" + section)
    row = 4 if "rl:" not in section else 5
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert f"{path}: row {row}: field '{field}'" in err[0], err[0]
    assert words in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_rl_command_refuses_groups_that_do_not_divide_the_batch(tmp_path, capsys):
    args = ["rl", "--student", str(tmp_path), "--items", str(tmp_path / "i.csv")]
    args += ["--out", str(tmp_path / "s"), "--batch-size", "6", "--num-generations", "4"]
    assert run(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "multiple of num_generations" in err[0]
    assert not (tmp_path / "s").exists()
