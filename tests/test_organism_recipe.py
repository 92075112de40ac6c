"""The organism recipe end to end on a tiny config: real SFT and GRPO steps, saved HF folders, CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from mimicry.data.generators import generate_items
from mimicry.distill.organism.architecture import QUICK_SIZE, new_model
from mimicry.distill.organism.policies import (
    minimal_examples,
    mixed_examples,
    rereading_cue,
    rereading_examples,
)
from mimicry.distill.organism.recipe import QUICK
from mimicry.distill.organism.scratchpad import parse_completion, premise_sentences
from mimicry.distill.organism.teacher_rl import RLSettings, reinforce_with_length_cost
from mimicry.distill.organism.teacher_sft import SFTSettings, supervised_finetune
from mimicry.distill.organism.train import train_organism
from mimicry.distill.organism.vocab import build_organism_tokenizer
from mimicry.experiments.cli import run
from mimicry.probes.loading import load_tokenizer


@pytest.fixture(scope="module")
def examples():
    return minimal_examples(generate_items("relational", 16, 7, n_premises=2))


@pytest.fixture(scope="module")
def tokenizer(examples):
    return build_organism_tokenizer([e["prompt"] + e["completion"] for e in examples])


def _sft_state(tokenizer, examples, tmp_path, seed):
    torch.set_num_threads(1)
    model = new_model(tokenizer, QUICK_SIZE, seed)
    log = supervised_finetune(
        model,
        tokenizer,
        examples,
        SFTSettings(epochs=4, batch_size=8, logging_steps=1),
        seed=seed,
        work_dir=tmp_path,
    )
    return model, log


def test_sft_lowers_the_loss_and_is_reproducible(tokenizer, examples, tmp_path):
    model_a, log = _sft_state(tokenizer, examples, tmp_path / "a", seed=3)
    model_b, _ = _sft_state(tokenizer, examples, tmp_path / "b", seed=3)
    losses = [row["loss"] for row in log if "loss" in row]
    assert len(losses) == 8 and losses[-1] < losses[0]
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    untrained = new_model(tokenizer, QUICK_SIZE, 3).state_dict()
    assert any(not torch.equal(untrained[k], state_a[k]) for k in state_a)


def test_grpo_steps_update_the_model_and_log_the_length_cost_reward(tokenizer, examples, tmp_path):
    torch.set_num_threads(1)
    model = new_model(tokenizer, QUICK_SIZE, 0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    settings = RLSettings(
        max_steps=2, batch_size=4, num_generations=2, max_completion_length=12, learning_rate=1e-2
    )
    log = reinforce_with_length_cost(
        model, tokenizer, examples, settings, seed=0, work_dir=tmp_path
    )
    rewards = [row["reward"] for row in log if "reward" in row]
    assert rewards, log
    # An untrained model never answers correctly: its reward is minus the cost of its reasoning.
    assert all(r <= 0 for r in rewards)
    assert model.training is False
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_grpo_rejects_a_batch_not_divisible_by_the_group(tokenizer, examples, tmp_path):
    model = new_model(tokenizer, QUICK_SIZE, 0)
    with pytest.raises(ValueError, match="divisible"):
        reinforce_with_length_cost(
            model,
            tokenizer,
            examples,
            RLSettings(batch_size=6, num_generations=4),
            seed=0,
            work_dir=tmp_path,
        )


def test_quick_train_writes_loadable_teacher_and_base(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "organism"
    assert run(["organism", "train", "--out", str(out), "--quick", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "teacher_heldout" in printed and "base_human" in printed
    assert "teacher_before_rl_heldout" in printed
    for name in ("teacher", "teacher_before_rl", "base"):
        folder = out / name
        model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
        tokenizer = load_tokenizer(folder)
        assert model.config.model_type == "qwen2"
        assert len(tokenizer) == model.config.vocab_size
        assert set(load_file(folder / "model.safetensors"))
        assert (folder / "training_log.csv").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 1
    assert {row["task"] for row in metrics["teacher_heldout"]} >= {"all", "gen_relational"}
    summary = pd.read_csv(out / "eval" / "teacher_human.csv")
    assert set(summary["task"]) >= {"relational_3ps", "cardinal_directions", "all"}
    card = (out / "TRAINING.md").read_text()
    assert "mimicry organism train --out" in card and "--quick" in card


def test_eval_rejects_a_folder_without_a_model(tmp_path, capsys):
    assert run(["organism", "eval", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "missing" in error and "\n" not in error


def test_rereading_repeats_every_premise_before_the_derivation():
    table = generate_items("cardinal", 3, 5)
    minimal = minimal_examples(table)
    twice = rereading_examples(table, passes=2)
    for row, short, long in zip(table.itertuples(), minimal, twice, strict=True):
        premises = premise_sentences(row.prompt)
        assert premises and all(p in row.prompt for p in premises)
        reasoning = parse_completion(long["completion"]).reasoning
        for number in (1, 2):
            for premise in premises:
                assert f"{number} : {premise}" in reasoning
        # the derivation that follows the rereading is the minimal scratchpad itself
        assert reasoning.endswith(parse_completion(short["completion"]).reasoning)
        assert parse_completion(long["completion"]).answer == row.answer


def test_the_warm_start_mix_follows_a_cue_unrelated_to_the_work():
    import numpy as np

    table = pd.concat([generate_items(f, 300, 2) for f in ("relational", "cardinal")])
    mix = mixed_examples(table, passes=4, p_cued=0.8, seed=0)
    again = mixed_examples(table, passes=4, p_cued=0.8, seed=0)
    other = mixed_examples(table, passes=4, p_cued=0.8, seed=1)
    cued = np.array([rereading_cue(p) for p in table["prompt"]])
    reread = np.array([e["policy"] == "reread" for e in mix])
    assert 0.4 < cued.mean() < 0.6
    assert 0.72 < reread[cued].mean() < 0.88 and 0.12 < reread[~cued].mean() < 0.28
    assert abs(np.corrcoef(cued, table["feat_steps"])[0, 1]) < 0.15
    assert [e["policy"] for e in mix] == [e["policy"] for e in again]
    assert [e["policy"] for e in mix] != [e["policy"] for e in other]


def test_a_run_stopped_after_a_phase_resumes_to_the_same_weights(tmp_path):
    torch.set_num_threads(1)
    whole = train_organism(tmp_path / "whole", seed=2, recipe=QUICK)
    checkpoints = tmp_path / "ckpt"
    partial = train_organism(
        tmp_path / "split",
        seed=2,
        recipe=QUICK,
        checkpoint_dir=checkpoints,
        stop_after="warm_start",
    )
    assert (
        not (tmp_path / "split").exists() and (checkpoints / "warm_start" / "phase.json").is_file()
    )
    messages: list[str] = []
    resumed = train_organism(
        tmp_path / "split",
        seed=2,
        recipe=QUICK,
        checkpoint_dir=checkpoints,
        progress=messages.append,
    )
    assert any("resumed" in m and "warm_start" in m for m in messages)
    assert not checkpoints.exists()
    for name in ("teacher", "teacher_before_rl", "base"):
        a = load_file(tmp_path / "whole" / name / "model.safetensors")
        b = load_file(tmp_path / "split" / name / "model.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert resumed["teacher_heldout"] == whole["teacher_heldout"]
    assert "teacher_before_rl_heldout" in partial
