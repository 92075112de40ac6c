"""Parsing generations into reasoning + answer, and lenient answer matching (INTERFACES §4)."""

from __future__ import annotations

import pytest

from mimicry.data.reasoning import (
    EMPTY_GENERATION,
    EMPTY_REASONING,
    MISSING_DELIMITER,
    NO_ANSWER,
    NO_REASONING_TAGS,
    UNCLOSED_REASONING,
    answers_match,
    normalise_answer,
    split_generation,
)


def test_think_tags_split_reasoning_and_answer():
    parsed = split_generation(" <think> A left of B . B left of C . </think> yes")
    assert parsed.ok and parsed.reason == ""
    assert parsed.reasoning == "A left of B . B left of C ."
    assert parsed.answer == "yes"


def test_prompt_opened_block_and_multiline_answer():
    # chat templates that open <think> in the prompt: only the close tag is generated
    parsed = split_generation("first, A.\nthen B.\n</think>\n\n**north**\nextra text")
    assert parsed.ok
    assert parsed.reasoning == "first, A.\nthen B."
    assert parsed.answer == "**north**"


def test_answer_pattern_ends_the_reasoning_without_tags():
    pattern = r"the\s+(?:final\s+)?answer\s+is\s*:?"
    text = "Step 1: B is left of C.\nSo, THE ANSWER IS: **yes**.\nThe answer is: no"
    parsed = split_generation(text, answer_pattern=pattern)
    assert parsed.ok and parsed.reasoning == "Step 1: B is left of C.\nSo,"
    assert parsed.answer == "**yes**." and answers_match(parsed.answer, "yes")
    own_line = split_generation(
        "A first.\nThe final answer is\n\n north-east\n", answer_pattern=pattern
    )
    assert own_line.ok and own_line.answer == "north-east"


def test_custom_tags_and_delimiter():
    parsed = split_generation("<reason>x y</reason> z", open_tag="<reason>", close_tag="</reason>")
    assert (parsed.reasoning, parsed.answer, parsed.ok) == ("x y", "z", True)
    parsed = split_generation("some steps here. Answer: 42", delimiter="Answer:")
    assert (parsed.reasoning, parsed.answer, parsed.ok) == ("some steps here.", "42", True)


@pytest.mark.parametrize(
    ("text", "kwargs", "reason"),
    [
        ("", {}, EMPTY_GENERATION),
        ("   \n", {}, EMPTY_GENERATION),
        ("just an answer", {}, NO_REASONING_TAGS),
        ("<think> step one . step two", {}, UNCLOSED_REASONING),
        ("<think> a b </think>   ", {}, NO_ANSWER),
        ("reasoning without the marker", {"delimiter": "Answer:"}, MISSING_DELIMITER),
        ("no marker here", {"answer_pattern": r"the answer is\s*:?"}, MISSING_DELIMITER),
        ("so The answer is:\n\n", {"answer_pattern": r"the answer is\s*:?"}, NO_ANSWER),
        # a loop that repeats the marker is no answer
        ("A. The answer is: The answer is: The", {"answer_pattern": r"the answer is:"}, NO_ANSWER),
        ("steps. Answer: Answer: Answer:", {"delimiter": "Answer:"}, NO_ANSWER),
    ],
)
def test_unparseable_generations_name_the_reason(text, kwargs, reason):
    parsed = split_generation(text, **kwargs)
    assert not parsed.ok
    assert parsed.reason == reason


def test_empty_closed_reasoning_is_a_zero_cost_answer():
    parsed = split_generation("<think>  </think> yes")
    assert parsed.ok and parsed.reasoning == "" and parsed.answer == "yes"
    assert EMPTY_REASONING == "empty_reasoning"  # still the exclusion reason for ablation sets


def test_unclosed_reasoning_keeps_the_text_for_counting():
    parsed = split_generation("<think> step one . step two")
    assert parsed.reasoning == "step one . step two" and parsed.answer == ""


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        ("Yes.", "yes"),
        ("  YES  ", "yes"),
        ("north - east", "north-east"),
        ("The answer is: no", "no"),
        ("Answer: All A are C.", "all a are c"),
        ("\\boxed{42}", "42"),
        ("'B'", "B"),
    ],
)
def test_answers_match_after_normalisation(predicted, gold):
    assert answers_match(predicted, gold)


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [("no", "yes"), ("north", "north-east"), ("", "yes"), ("yes", ""), ("4 2", "42")],
)
def test_answers_that_differ_do_not_match(predicted, gold):
    assert not answers_match(predicted, gold)


def test_normalise_answer_is_idempotent():
    for text in ("The answer is North - East .", "\\boxed{ 7 }", "Some B are not A"):
        once = normalise_answer(text)
        assert normalise_answer(once) == once
