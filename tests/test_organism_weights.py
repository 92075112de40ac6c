"""The shipped organism weights load as plain HF folders and meet the organism's targets.

Held-out items are the recipe's own held-out split (same draw as training, disjoint prompts), so
none of them was seen in training: all of them, as in the card (greedy generation, seconds).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM

from distill.organism import BASE_DIR, TEACHER_DIR, WEIGHTS_DIR
from distill.organism.evaluate import score_items, summarise
from distill.organism.recipe import FULL
from distill.organism.train import build_item_sets
from probes.loading import load_tokenizer

N_PER_FAMILY = FULL.n_heldout_per_family


@pytest.fixture(scope="module")
def heldout() -> pd.DataFrame:
    metrics = json.loads((WEIGHTS_DIR / "metrics.json").read_text())
    _, table = build_item_sets(FULL, metrics["seed"])
    return table.groupby("task", sort=True).head(N_PER_FAMILY).reset_index(drop=True)


def _load(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True).eval()
    return model, load_tokenizer(folder)


def test_shipped_weights_are_small_safetensors_folders():
    for folder in (TEACHER_DIR, BASE_DIR):
        assert (folder / "model.safetensors").is_file()
        assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
        assert (folder / "model.safetensors").stat().st_size < 8_000_000
    assert "mimicry organism train --out" in (WEIGHTS_DIR / "TRAINING.md").read_text()


def test_teacher_is_accurate_and_its_reasoning_length_follows_the_work(heldout):
    torch.set_num_threads(2)
    model, tokenizer = _load(TEACHER_DIR)
    summary = summarise(score_items(model, tokenizer, heldout, max_new_tokens=FULL.max_new_tokens))
    overall = summary.set_index("task").loc["all"]
    assert overall["n"] == N_PER_FAMILY * len(FULL.families)
    assert overall["accuracy"] >= 0.9, summary


def test_teacher_reasoning_length_follows_the_work(heldout):
    torch.set_num_threads(2)
    model, tokenizer = _load(TEACHER_DIR)
    summary = summarise(score_items(model, tokenizer, heldout, max_new_tokens=FULL.max_new_tokens))
    overall = summary.set_index("task").loc["all"]
    assert overall["n"] == N_PER_FAMILY * len(FULL.families)
    assert overall["r_feat_steps_r"] >= 0.5, summary
    assert overall["r_feat_steps_ci_low"] > 0


def test_base_answers_without_reasoning(heldout):
    torch.set_num_threads(2)
    model, tokenizer = _load(BASE_DIR)
    scored = score_items(model, tokenizer, heldout.head(40), max_new_tokens=16)
    assert scored["parsed"].mean() >= 0.9
    assert (scored["n_reasoning_tokens"] == 0).mean() >= 0.9
