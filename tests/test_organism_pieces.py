"""The organism's pieces on real components: scratchpad format, token counting, reward, statistics."""

from __future__ import annotations

import json

import pytest

from mimicry.data.generators import generate_items
from mimicry.distill.organism.generation import count_reasoning_tokens
from mimicry.distill.organism.scratchpad import (
    answer_is_correct,
    format_scratchpad,
    parse_completion,
)
from mimicry.distill.organism.teacher_rl import reward_for
from mimicry.distill.organism.vocab import build_organism_tokenizer, unknown_word_rate
from mimicry.distill.word_tokenizer import THINK_CLOSE, THINK_OPEN


@pytest.fixture(scope="module")
def items():
    return generate_items("relational", 8, 3)


@pytest.fixture(scope="module")
def tokenizer(items):
    texts = [
        p + format_scratchpad(json.loads(s), a)
        for p, s, a in zip(items.prompt, items.steps, items.answer, strict=True)
    ]
    return build_organism_tokenizer(texts)


def test_scratchpad_round_trips_through_the_parser(items):
    for row in items.itertuples():
        steps = json.loads(row.steps)
        completion = format_scratchpad(steps, row.answer)
        assert completion.startswith(f" {THINK_OPEN} ")
        parsed = parse_completion(completion)
        assert parsed.ok and parsed.answer == row.answer
        assert parsed.reasoning.count(";") == len(steps) - 1


def test_no_trace_completion_has_an_empty_think_block():
    parsed = parse_completion(" <think> </think> north-east")
    assert parsed.ok and parsed.reasoning == "" and parsed.answer == "north-east"


def test_malformed_completions_are_flagged():
    assert not parse_completion("<think> A B C").ok
    assert not parse_completion("yes").ok
    assert not parse_completion("<think> A </think>").ok


def test_answers_compare_by_words_as_a_word_tokenizer_decodes_them():
    assert answer_is_correct("north - east", "north-east")
    assert answer_is_correct("Some models are tailors.", "some models are tailors")
    assert not answer_is_correct("north", "north-east")
    assert not answer_is_correct("", "")


def test_think_markers_are_single_tokens_and_the_vocabulary_covers_items(items, tokenizer):
    completion = format_scratchpad(json.loads(items.steps[0]), items.answer[0])
    ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    open_id, close_id = (tokenizer.convert_tokens_to_ids(t) for t in (THINK_OPEN, THINK_CLOSE))
    assert ids.count(open_id) == 1 and ids.count(close_id) == 1
    n_words = ids.index(close_id) - ids.index(open_id) - 1
    assert count_reasoning_tokens(ids, open_id, close_id) == n_words > 0
    assert unknown_word_rate(tokenizer, items.prompt) == 0.0
    assert unknown_word_rate(tokenizer, ["zebra quantum"]) == 1.0


def test_unclosed_think_block_counts_every_token_after_the_opening():
    assert count_reasoning_tokens([9, 5, 7, 7, 7], open_id=5, close_id=6) == 3
    assert count_reasoning_tokens([9, 7, 7], open_id=5, close_id=6) == 0


def test_reward_is_correctness_minus_a_cost_per_reasoning_token(tokenizer):
    reward = reward_for(tokenizer, cost_per_token=0.01)
    short = f" {THINK_OPEN} A B {THINK_CLOSE} yes"
    long = f" {THINK_OPEN} A B ; A B C ; A B C D {THINK_CLOSE} yes"
    wrong = f" {THINK_OPEN} A B {THINK_CLOSE} no"
    unclosed = f" {THINK_OPEN} A B yes"
    texts = [short, long, wrong, unclosed]
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    values = reward(prompts=[""] * 4, completions=texts, completion_ids=ids, answer=["yes"] * 4)
    assert values[0] == pytest.approx(1 - 0.02)
    assert values[1] == pytest.approx(1 - 0.01 * 11)
    assert values[2] == pytest.approx(-0.02)
    assert values[3] == pytest.approx(-0.03)
