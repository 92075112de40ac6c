"""One prompting convention per model: generate, capture and steer render the same prompt, parse
the same way and stop at the same tokens; unparsed generations are excluded and counted later."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.reasoning import MISSING_DELIMITER
from mimicry.data.traces import read_traces, write_traces
from mimicry.distill.word_tokenizer import build_word_tokenizer
from mimicry.experiments.config import ModelSpec
from mimicry.experiments.pipeline.models import prompt_convention
from mimicry.probes.capture.inputs import encode_item
from mimicry.probes.directions import save_directions
from mimicry.probes.loading import load_tokenizer
from mimicry.probes.probing.targets import build_targets
from mimicry.probes.prompting import (
    DEFAULT_ANSWER_PATTERN,
    DEFAULT_INSTRUCTION,
    PromptConvention,
)
from tests.tiny_models import BASE_TEXTS, tiny_config

# ChatML without any think tag, as SmolLM2-Instruct's template; <|im_end|> ends the turn, </s> is eos.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }} <|im_end|> "
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)
# The word tokenizers always hold <think>; a family whose tag is <reason> has it nowhere.
NO_TAGS = {"think_open": "<reason>", "think_close": "</reason>"}
PROMPTS = [
    "A is left of B . B is left of C . Is A left of C ?",
    "If the light is on then the door is open .",
    "All artists are bakers . Some bakers are chemists . What follows ?",
]


def _chat_model(folder, *, seed: int = 0):
    """A tiny random-init qwen2 chat model without think tags; returns (folder, im_end id)."""
    texts = (*BASE_TEXTS, DEFAULT_INSTRUCTION, "system you are terse the answer is")
    tokenizer = build_word_tokenizer(
        texts, ("user", "assistant", "system"), whole_tokens=("<|im_start|>", "<|im_end|>")
    )
    tokenizer.chat_template = CHATML
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config("qwen2", len(tokenizer))).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder, tokenizer.convert_tokens_to_ids("<|im_end|>")


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    return _chat_model(tmp_path_factory.mktemp("chat"))


def test_a_chat_model_without_think_tags_is_asked_for_reasoning_and_a_marked_answer(chat_model):
    tokenizer = load_tokenizer(chat_model[0])
    resolved = PromptConvention(**NO_TAGS).resolved(tokenizer)
    assert (resolved.style, resolved.answer_pattern) == ("chat", DEFAULT_ANSWER_PATTERN)
    assert resolved.instruction == DEFAULT_INSTRUCTION and not resolved.uses_think_tags
    text = resolved.render(tokenizer, PROMPTS[0])
    user = f"<|im_start|>user {PROMPTS[0]}\n\n{DEFAULT_INSTRUCTION} <|im_end|> "
    assert text == user + "<|im_start|>assistant "
    parsed = resolved.parse("B is between . so , the answer is : yes .\nmore")
    assert parsed.ok and parsed.reasoning == "B is between . so ," and parsed.answer == "yes ."
    missing = resolved.parse("B is between and A is left")
    assert not missing.ok and missing.reason == MISSING_DELIMITER
    # the same tokenizer with the think tag its vocabulary has: tags, no instruction
    tagged = PromptConvention().resolved(tokenizer)
    assert tagged.uses_think_tags and tagged.instruction == ""
    assert tagged.render(tokenizer, "x") == "<|im_start|>user x <|im_end|> <|im_start|>assistant "
    # explicit choices win over the default; '' switches the default marker off
    own = PromptConvention(**NO_TAGS, instruction="", answer_pattern="").resolved(tokenizer)
    assert own.uses_think_tags and own.instruction == ""
    mine = PromptConvention(style="chat", instruction="show work", **NO_TAGS).resolved(tokenizer)
    assert (mine.instruction, mine.answer_pattern) == ("show work", DEFAULT_ANSWER_PATTERN)
    for done in (resolved, tagged, own, mine):  # a stored convention resolves to itself
        assert PromptConvention.from_value(done.as_dict()).resolved(tokenizer) == done
    system = PromptConvention(system_prompt="you are terse", instruction="").resolved(tokenizer)
    assert system.render(tokenizer, "x").startswith("<|im_start|>system you are terse <|im_end|>")
    with pytest.raises(InputError, match="answer_pattern"):
        PromptConvention(answer_pattern="(unclosed")
    with pytest.raises(InputError, match="system"):
        PromptConvention(style="plain", system_prompt="x")


def test_one_convention_renders_the_same_tokens_in_generate_capture_and_steer(chat_model):
    from mimicry.distill.backends.hf import HFBackend
    from mimicry.probes.steer import render_prompts

    folder, _ = chat_model
    spec = ModelSpec(
        source=str(folder), system_prompt="you are terse", think_tags=("<reason>", "</reason>")
    )
    convention = prompt_convention(spec)
    assert convention.system_prompt == "you are terse" and convention.think_open == "<reason>"
    backend = HFBackend(folder, device="cpu", convention=convention)
    tokenizer = backend.tokenizer
    generated = [
        tokenizer(t, add_special_tokens=backend.convention.adds_special_tokens(tokenizer))[
            "input_ids"
        ]
        for t in backend.render_prompts(PROMPTS)
    ]
    captured = [
        list(encode_item(tokenizer, "i", p, template=convention).input_ids) for p in PROMPTS
    ]
    texts, special = render_prompts(PROMPTS, tokenizer, convention)
    steered = [tokenizer(t, add_special_tokens=special)["input_ids"] for t in texts]
    assert generated == captured == steered
    assert all(ids.count(tokenizer.bos_token_id) == 0 for ids in generated)  # no second bos
    # the registry family wins over the default; a plain model keeps its bos
    r1 = prompt_convention(ModelSpec(source="x", registry="deepseek-r1-distill-qwen-1.5b"))
    assert (r1.style, r1.answer_pattern, r1.think_open) == ("chat", "", "<think>")
    assert prompt_convention(ModelSpec(source="x", prompt_style="plain")).style == "plain"


def _force_stop_token(folder, stop_id: int, prompts, tokenizer) -> int:
    """Make the model end its turn where it would first say its favourite token: the <|im_end|>
    row of the output layer becomes 1.5 x that token's row, so a greedy step that picks it (with
    a positive logit) picks <|im_end|> instead. Returns that token id."""
    from mimicry.probes.loading import load_causal_lm

    model = load_causal_lm(folder)
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=6, do_sample=False, eos_token_id=None)
    first = out[:, batch["input_ids"].shape[1] :]
    favourite = int(torch.mode(first.flatten()).values)
    with torch.no_grad():
        model.lm_head.weight[stop_id] = 1.5 * model.lm_head.weight[favourite]
    model.save_pretrained(folder, safe_serialization=True)
    return favourite


def test_steering_at_alpha_zero_is_generate_token_for_token_with_its_stop_tokens(tmp_path):
    from mimicry.distill.generate import generate
    from mimicry.probes.steer import steer_run

    folder, im_end = _chat_model(tmp_path / "chat", seed=1)
    tokenizer = load_tokenizer(folder)
    convention = PromptConvention(**NO_TAGS)
    rendered = [convention.render(tokenizer, p) for p in PROMPTS]
    _force_stop_token(folder, im_end, rendered, tokenizer)
    run = tmp_path / "run"
    run.mkdir()
    items = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "task": ["t1", "t1", "t2"], "prompt": PROMPTS}
    ).assign(answer=["yes", "no", "yes"])
    items.to_csv(run / "items.csv", index=False)
    summary = generate(
        folder,
        run / "items.csv",
        run / "traces" / "m.jsonl",
        name="m",
        max_new_tokens=12,
        batch_size=2,
        device="cpu",
        convention=convention,
    )
    traces = [json.loads(line) for line in (run / "traces" / "m.jsonl").read_text().splitlines()]
    d_model = json.loads((folder / "config.json").read_text())["hidden_size"]
    direction = np.zeros((3, d_model), dtype=np.float32)
    direction[:, 0] = 1.0
    save_directions(
        run / "probes" / "directions" / "m" / "last_prompt.safetensors",
        {"direction": direction, "resid_norm": np.full(3, 5.0, dtype=np.float32)},
    )
    out = steer_run(
        folder,
        run,
        layer=1,
        alphas=[0.0, 2.0],
        name="m",
        max_new_tokens=12,
        batch_size=2,
        n_boot=20,
        convention=convention,
    )
    steered = pd.read_csv(out.with_name("steer_generations.csv"), keep_default_na=False)
    zero = steered[steered["alpha"] == 0.0].reset_index(drop=True)
    assert summary.n_parsed == 0  # a random model never writes "the answer is"
    assert [t["generation"] for t in traces] == zero["text"].tolist()
    assert [t["n_generated_tokens"] for t in traces] == zero["n_tokens"].tolist()
    assert [t["finished"] for t in traces] == zero["finished"].tolist()
    # at least one generation ended on <|im_end|> (not eos) before the budget: the end-of-turn
    # stop applies in both; the old steering loop stopped at eos only and ran on
    early = [t for t in traces if t["finished"] and t["n_generated_tokens"] < 12]
    assert early, traces
    from mimicry.probes.loading import load_causal_lm

    model = load_causal_lm(folder)
    batch = tokenizer(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        eos_only = model.generate(
            **batch, max_new_tokens=12, do_sample=False, eos_token_id=tokenizer.eos_token_id
        )
    assert im_end in eos_only[:, batch["input_ids"].shape[1] :].tolist()[traces.index(early[0])]

    # nothing parsed: one clear row per alpha, no change of 0 with p = 1
    table = pd.read_csv(out)
    assert (table["status"] == "nothing parsed").all() and (table["n_paired"] == 0).all()
    assert table[["delta_length", "delta_length_p", "delta_acc_p"]].isna().all().all()
    assert table["mean_length"].isna().all() and (table["n_parse_failed"] == 3).all()
    excluded = pd.read_csv(out.with_name("steer_exclusions.csv"))
    assert set(excluded["task"]) == {"t1", "t2"} and excluded["n"].sum() == 6
    from mimicry.probes.steer import nothing_parsed_line

    line = nothing_parsed_line(table)
    assert line and "\n" not in line and "nothing parsed" in line and "3 of 3" in line


def test_unparsed_traces_are_excluded_and_counted_by_capture_and_probe_targets(
    tiny_model_factory, tmp_path
):
    from mimicry.probes.capture import capture_run

    folder = tiny_model_factory("qwen2")
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "task": ["t1", "t1", "t2", "t2"],
            "prompt": PROMPTS + PROMPTS[:1],
            "answer": ["yes", "no", "yes", "no"],
        }
    )
    items.to_csv(tmp_path / "items.csv", index=False)
    rows = [
        {"item_id": i, "model": "m", "sample": 0, "reasoning": r, "answer": a, "correct": c}
        for i, r, a, c in [
            ("a", "A is left of B", "yes", True),
            ("b", "", "", False),  # unparsed: no answer
            ("c", "so the door", "yes", True),
            ("d", "hmm wait", "", False),  # unparsed, reasoning text but no answer
        ]
    ]
    traces = write_traces([{**r, "n_reasoning_tokens": 3} for r in rows], tmp_path / "m.jsonl")
    result = capture_run(
        folder,
        tmp_path / "items.csv",
        tmp_path / "run",
        "m",
        traces=traces,
        template=PromptConvention(),  # the library default, resolved against the tokenizer
    )
    assert result.n_items == 2
    unparsed = [r for r in result.exclusions.rows() if r["reason"] == "unparsed_trace"]
    assert {(r["task"], r["n"]) for r in unparsed} == {("t1", 1), ("t2", 1)}
    manifest = json.loads((tmp_path / "run" / "activations" / "m" / "manifest.json").read_text())
    assert manifest["item_ids"] == ["a", "c"] and manifest["n_excluded"] == 2
    assert manifest["template"] == "raw" and manifest["prompt_convention"]["style"] == "plain"

    frame, _ = read_traces([traces], item_ids=items["item_id"].tolist())
    ledger = Exclusions()
    targets = build_targets(items, frame, "m", ["own_length", "correct"], ledger)
    assert np.isnan(targets["own_length"].values[[1, 3]]).all()
    assert np.allclose(targets["own_length"].values[[0, 2]], np.log1p(3))
    counted = {(r["task"], r["reason"]): r["n"] for r in ledger.rows()}
    assert counted[("t1", "unparsed_sample")] == 1 and counted[("t2", "unparsed_sample")] == 1
    assert counted[("t1", "no_own_length")] == 1 and counted[("t2", "no_correct")] == 1


def test_a_run_gives_each_model_one_convention_and_its_students_the_trained_one():
    from mimicry.experiments.config import RunConfig
    from mimicry.experiments.pipeline.models import run_convention

    config = RunConfig.model_validate(
        {
            "models": {
                "teacher": {"source": "t", "instruction": "show your work", "system_prompt": "s"},
                "base": {"source": "b", "answer_pattern": "final:", "prompt_style": "chat"},
                "students": {"pub": {"source": "p", "instruction": ""}},
            }
        }
    )
    teacher = run_convention(config, "teacher")
    assert (teacher.instruction, teacher.system_prompt) == ("show your work", "s")
    assert run_convention(config, "base").answer_pattern == "final:"
    assert run_convention(config, "base__random_init") == run_convention(config, "base")
    assert run_convention(config, "student_pub").instruction == ""
    # SFT and RL students learnt think-tagged completions after the bare prompt
    student = run_convention(config, "student_original")
    assert (student.style, student.instruction, student.answer_pattern) == ("chat", "", "")
    assert student.uses_think_tags
