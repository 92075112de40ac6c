"""Steering along a direction: alpha = 0 is plain generate, alpha != 0 changes generations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from mimicry.experiments.cli import run as cli
from mimicry.probes.directions import save_directions
from mimicry.probes.loading import load_causal_lm, load_tokenizer
from mimicry.probes.steer import generate_texts, paired_change, steering

PROMPTS = [
    "A is left of B . B is left of C . Is A left of C ?",
    "All artists are bakers . Some bakers are chemists . What follows ?",
    "If the light is on then the door is open .",
]


@pytest.mark.parametrize("arch", ["qwen2", "gpt2"])
def test_alpha_zero_is_plain_generate_and_nonzero_changes_it(tiny_model_factory, arch):
    path = tiny_model_factory(arch)
    model, tokenizer = load_causal_lm(path), load_tokenizer(path)
    plain = generate_texts(model, tokenizer, PROMPTS, max_new_tokens=8)
    direction = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    direction /= direction.norm()
    with steering(model, 1, 0.0 * direction):
        zero = generate_texts(model, tokenizer, PROMPTS, max_new_tokens=8)
    with steering(model, 1, 50.0 * direction):
        pushed = generate_texts(model, tokenizer, PROMPTS, max_new_tokens=8)
    after = generate_texts(model, tokenizer, PROMPTS, max_new_tokens=8)
    assert zero == plain
    assert pushed != plain
    assert after == plain  # the hook is removed on exit


def test_paired_change_ci_and_p():
    rng = np.random.default_rng(0)
    shifted = paired_change(rng.normal(2.0, 1.0, size=40), n_boot=500, seed=0)
    assert shifted[1] < 2.0 < shifted[2] and shifted[3] < 0.01
    null = paired_change(rng.normal(0.0, 1.0, size=40), n_boot=500, seed=0)
    assert null[1] < 0 < null[2] and null[3] > 0.05


def test_cli_steer_writes_csv(tiny_model_factory, tmp_path, capsys):
    path = tiny_model_factory("qwen2")
    run = tmp_path / "run"
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "task": ["t"] * 3,
            "prompt": PROMPTS,
            "answer": ["yes", "no", "yes"],
        }
    )
    run.mkdir()
    items.to_csv(run / "items.csv", index=False)
    d_model = json.loads((path / "config.json").read_text())["hidden_size"]
    direction = np.zeros((3, d_model), dtype=np.float32)
    direction[:, 0] = 1.0
    save_directions(
        run / "probes" / "directions" / "m" / "last_prompt.safetensors",
        {"direction": direction, "resid_norm": np.full(3, 5.0, dtype=np.float32)},
    )
    out = tmp_path / "steer.csv"
    code = cli(
        [
            "steer",
            "--model",
            str(path),
            "--run",
            str(run),
            "--layer",
            "2",
            "--alphas",
            "-3,3",
            "--name",
            "m",
            "--max-new-tokens",
            "6",
            "--n-boot",
            "50",
            "--answer-pattern",
            r"(?=\S+\s*$)",  # a random model's last word is its answer: every generation parses
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    assert sorted(table.alpha) == [-3.0, 0.0, 3.0]
    zero = table[table.alpha == 0].iloc[0]
    assert zero.delta_length == 0 and zero.delta_acc == 0 and zero.n_items == 3
    assert zero.n_paired == 3 and (table.status == "ok").all()
    assert (tmp_path / "steer_generations.csv").is_file()
    bad = cli(
        [
            "steer",
            "--model",
            str(path),
            "--run",
            str(run),
            "--layer",
            "9",
            "--name",
            "m",
            "--alphas",
            "1",
            "--out",
            str(tmp_path / "x.csv"),
        ]
    )
    assert bad == 2 and "layer" in capsys.readouterr().err


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_nnsight_steering_equals_the_hook_locally_and_through_remote_serialisation(
    tiny_model_factory, arch
):
    import nnsight

    from mimicry.probes.steer import generate_texts_nnsight

    path = tiny_model_factory(arch)
    model, tokenizer = load_causal_lm(path), load_tokenizer(path)
    lm = nnsight.TransformersModel(model, tokenizer=tokenizer)
    direction = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(3))
    for scale in (0.0, 0.5, 50.0):
        vector = scale * direction / direction.norm()
        with steering(model, 2, vector):
            hooked = generate_texts(model, tokenizer, PROMPTS, max_new_tokens=8)
        for remote in (False, "local"):
            steered = generate_texts_nnsight(
                lm,
                tokenizer,
                PROMPTS,
                layers_path="model.layers",
                block_index=1,
                vector=vector,
                max_new_tokens=8,
                remote=remote,
            )
            assert steered == hooked, (scale, remote)


def test_steer_run_remote_local_writes_the_same_table(tiny_model_factory, tmp_path):
    from mimicry.probes.steer import steer_run

    path = tiny_model_factory("qwen2")
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "task": ["t"] * 3,
            "prompt": PROMPTS,
            "answer": ["yes", "no", "yes"],
        }
    ).to_csv(run / "items.csv", index=False)
    d_model = json.loads((path / "config.json").read_text())["hidden_size"]
    direction = np.zeros((3, d_model), dtype=np.float32)
    direction[:, 1] = 1.0
    save_directions(
        run / "probes" / "directions" / "m" / "last_prompt.safetensors",
        {"direction": direction, "resid_norm": np.full(3, 5.0, dtype=np.float32)},
    )
    tables = [
        pd.read_csv(
            steer_run(
                path,
                run,
                layer=2,
                alphas=[-2, 2],
                name="m",
                max_new_tokens=6,
                batch_size=16,
                n_boot=50,
                out_path=tmp_path / f"{mode}.csv",
                remote=mode,
            )
        )
        for mode in ("no", "local")
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_chat_prompts_are_rendered_once_with_the_family_template(tmp_path):
    from mimicry.probes.steer import render_prompts
    from tests.tiny_models import make_tiny_like

    tokenizer = load_tokenizer(make_tiny_like(tmp_path / "r1", "deepseek-r1-distill-qwen-1.5b"))
    prompts, add_special = render_prompts(PROMPTS[:1], tokenizer, "chat", "<think>", False)
    assert add_special is False and prompts[0].rstrip().endswith("<think>")
    ids = tokenizer(prompts[0], add_special_tokens=add_special)["input_ids"]
    assert ids.count(tokenizer.bos_token_id) == 1  # the template's bos, not a second one
    plain, add_special = render_prompts(PROMPTS[:1], tokenizer, "raw", "<think>", True)
    assert add_special is True and plain == [PROMPTS[0] + " <think>"]
