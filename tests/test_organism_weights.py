"""The shipped organism weights load as plain HF folders and meet the card's targets.

Held-out items are the recipe's own held-out split (same draw as training, disjoint prompts), so
none was seen in training: all of them, greedy, as in the card. Every target is re-measured here
on the shipped folders, including the teacher before RL (shipped for that purpose).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from mimicry.distill.organism import BASE_DIR, TEACHER_BEFORE_RL_DIR, TEACHER_DIR, WEIGHTS_DIR
from mimicry.distill.organism.card import (
    ACCURACY_TARGET,
    BASE_ACCURACY_TARGET,
    BASE_PARSE_TARGET,
    LENGTH_WORK_R_TARGET,
    RL_GAIN_TARGET,
)
from mimicry.distill.organism.evaluate import score_items, summarise
from mimicry.distill.organism.item_sets import build_item_sets
from mimicry.distill.organism.recipe import FULL
from mimicry.probes.loading import load_causal_lm, load_tokenizer

pytestmark = pytest.mark.slow  # full pipeline runs / the shipped organism's held-out evaluation

N_PER_FAMILY = FULL.n_heldout_per_family


@pytest.fixture(scope="module")
def heldout() -> pd.DataFrame:
    metrics = json.loads((WEIGHTS_DIR / "metrics.json").read_text())
    _, table = build_item_sets(FULL, metrics["seed"])
    return table.reset_index(drop=True)


def _overall(folder, items) -> pd.Series:
    torch.set_num_threads(2)
    model, tokenizer = load_causal_lm(folder), load_tokenizer(folder)
    scored = score_items(model, tokenizer, items, max_new_tokens=FULL.max_new_tokens)
    summary = summarise(scored)
    overall = summary.set_index("task").loc["all"]
    assert overall["n"] == N_PER_FAMILY * len(FULL.families)
    return overall


@pytest.fixture(scope="module")
def teacher(heldout):
    return _overall(TEACHER_DIR, heldout)


@pytest.fixture(scope="module")
def before_rl(heldout):
    return _overall(TEACHER_BEFORE_RL_DIR, heldout)


def test_shipped_weights_are_small_safetensors_folders():
    for folder in (TEACHER_DIR, TEACHER_BEFORE_RL_DIR, BASE_DIR):
        assert (folder / "model.safetensors").is_file()
        assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
        assert (folder / "model.safetensors").stat().st_size < 8_000_000
    assert "mimicry organism train --out" in (WEIGHTS_DIR / "TRAINING.md").read_text()


@pytest.mark.xfail(
    strict=True,
    reason="target not met by the shipped teacher: held-out accuracy 0.82 after RL (0.81 before; "
    "the competence model had 0.91, the rereading warm start cost 0.1); see TRAINING.md",
)
def test_teacher_after_rl_is_accurate(teacher):
    assert teacher["accuracy"] >= ACCURACY_TARGET, teacher


def test_teacher_length_follows_the_work_after_rl(teacher):
    assert teacher["r_feat_steps_r"] >= LENGTH_WORK_R_TARGET, teacher
    assert teacher["partial_r_feat_steps_ci_low"] > 0, teacher


def test_rl_changed_the_allocation(teacher, before_rl):
    gain = teacher["r_feat_steps_r"] - before_rl["r_feat_steps_r"]
    assert gain >= RL_GAIN_TARGET, (before_rl, teacher)
    assert teacher["mean_reasoning_tokens"] < before_rl["mean_reasoning_tokens"]


def test_base_reasons_on_every_item_and_is_competent(heldout):
    base = _overall(BASE_DIR, heldout)
    assert base["parse_rate"] >= BASE_PARSE_TARGET, base
    assert base["accuracy"] >= BASE_ACCURACY_TARGET, base
    torch.set_num_threads(2)
    scored = score_items(
        load_causal_lm(BASE_DIR),
        load_tokenizer(BASE_DIR),
        heldout,
        max_new_tokens=FULL.max_new_tokens,
    )
    assert (scored["n_reasoning_tokens"] > 0).all()


def test_the_card_reports_what_the_shipped_teacher_does(teacher):
    """The accuracy target is not met: the card must say so with the number re-measured here,
    and say which phase lost the accuracy (the issue's fallback when RL cannot get there)."""
    card = (WEIGHTS_DIR / "TRAINING.md").read_text()
    verdict = "met" if teacher["accuracy"] >= ACCURACY_TARGET else "NOT met"
    assert (
        f"Teacher accuracy after RL >= {ACCURACY_TARGET}: {verdict} ({teacher['accuracy']:.3f})"
        in card
    )
    if verdict == "NOT met":
        assert "### Accuracy through the phases: what limits the teacher" in card
        assert "The largest loss is in the" in card
