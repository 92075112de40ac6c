"""`mimicry generate`: batched generation on tiny real models, parsing, scoring, token counting,
resume after an interruption, seeded sampling, and unparsed generations kept and counted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from mimicry.data.errors import InputError
from mimicry.data.traces import read_traces
from mimicry.distill.backends.prompting import render_prompt, resolve_style
from mimicry.distill.generate import generate
from mimicry.distill.sft import to_dataset_rows, train_student
from mimicry.distill.word_tokenizer import build_word_tokenizer
from mimicry.experiments.cli import run
from mimicry.probes.loading import load_tokenizer
from tests.tiny_models import make_tiny_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread on a shared CPU; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


WORDS = ("one", "two", "three", "four", "five", "six")


def chain_prompt(k: int, entity: str) -> str:
    return f"chain {WORDS[k - 1]} from {entity} ?"


def chain_reasoning(k: int) -> str:
    return " ".join(f"step {WORDS[j]} ." for j in range(k))


def write_items(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def chain_model(tmp_path_factory):
    """A tiny GPT-2 taught (20 s budget, real trl SFT) to write `<think> k steps </think> done`."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("chain")
    rows = [
        {
            "item_id": f"k{k}{x}",
            "prompt": chain_prompt(k, x),
            "completion": f"<think> {chain_reasoning(k)} </think> done",
        }
        for k in range(1, 7)
        for x in "ABCD"
    ]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = make_tiny_model(
        root / "base", "gpt2", texts=[f"{r['prompt']} {r['completion']} other" for r in rows]
    )
    train_student(base, root, root / "student", max_steps=60, learning_rate=1e-2, batch_size=24)
    return root / "student"


@pytest.fixture
def chain_items(tmp_path) -> Path:
    rows = [
        {"item_id": f"i{k}", "task": "chain", "prompt": chain_prompt(k, "B"), "answer": "done"}
        for k in range(1, 7)
    ]
    rows[4]["answer"] = "other"  # a wrong gold answer: the trace must be marked incorrect
    return write_items(tmp_path / "items.csv", rows)


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_generate_parses_scores_and_counts_tokens(chain_model, chain_items, tmp_path):
    out = tmp_path / "traces" / "student.jsonl"
    summary = generate(chain_model, chain_items, out, batch_size=4, max_new_tokens=30)
    rows = read_rows(out)
    assert summary.n_rows == len(rows) == 6
    tokenizer = load_tokenizer(chain_model)
    for row, gold in zip(rows, ["done"] * 4 + ["other", "done"], strict=True):
        assert row["model"] == "student" and row["sample"] == 0 and row["parse_error"] == ""
        assert row["reasoning"].startswith("step one .") and row["answer"] == "done"
        assert row["correct"] is (gold == "done")
        counted = len(tokenizer(row["reasoning"], add_special_tokens=False)["input_ids"])
        assert row["n_reasoning_tokens"] == counted == len(row["reasoning"].split())
        assert row["finished"] and row["n_generated_tokens"] > row["n_reasoning_tokens"]
    lengths = [row["n_reasoning_tokens"] for row in rows]
    assert lengths[-1] > lengths[0]  # the taught model writes more steps for longer chains
    assert summary.n_correct == 5 and summary.exclusions.total() == 0
    one_by_one = tmp_path / "unbatched.jsonl"
    generate(chain_model, chain_items, one_by_one, batch_size=1, max_new_tokens=30)
    assert read_rows(one_by_one) == rows  # left padding does not change greedy generations
    frame, ledger = read_traces(out)
    assert len(frame) == 6 and frame["parsed"].all() and ledger.total() == 0


class Interrupt(Exception):
    """Raised from the progress hook to kill a generation run mid-way."""


def test_interrupted_generation_resumes_to_the_same_file(chain_model, chain_items, tmp_path):
    options = dict(batch_size=2, max_new_tokens=30, temperature=1.0, samples=2, seed=3)
    reference = tmp_path / "reference.jsonl"
    generate(chain_model, chain_items, reference, **options)

    out = tmp_path / "resumed.jsonl"

    def stop_after_two(done, total):
        if done == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        generate(chain_model, chain_items, out, on_batch=stop_after_two, **options)
    assert not out.exists()
    partial = tmp_path / ".resumed.jsonl.partial"
    assert len(partial.read_text().splitlines()) == 4  # two batches of two samples kept

    summary = generate(chain_model, chain_items, out, **options)
    assert summary.resumed_batches == 2 and not partial.exists()
    assert out.read_text() == reference.read_text()
    assert generate(chain_model, chain_items, out, **options).skipped


def test_sampling_is_seeded(tiny_items_model, tmp_path):
    model, items = tiny_items_model
    first, again, other = (tmp_path / f"{n}.jsonl" for n in ("a", "b", "c"))
    options = dict(temperature=1.0, samples=2, max_new_tokens=12, batch_size=3)
    generate(model, items, first, seed=1, **options)
    generate(model, items, again, seed=1, **options)
    generate(model, items, other, seed=2, **options)
    assert first.read_text() == again.read_text()
    assert first.read_text() != other.read_text()


@pytest.fixture
def tiny_items_model(tmp_path):
    """A random-init Qwen2 whose vocabulary covers the items; it emits unparseable text."""
    rows = [
        {"item_id": "a", "task": "t", "prompt": "Is A left of C ?", "answer": "yes"},
        {"item_id": "b", "task": "t", "prompt": "Is C left of A ?", "answer": "no"},
        {
            "item_id": "c",
            "task": "t",
            "prompt": "All artists are bakers . What follows ?",
            "answer": "none",
        },
    ]
    items = write_items(tmp_path / "items.csv", rows)
    model = make_tiny_model(tmp_path / "random", "qwen2", texts=[r["prompt"] for r in rows])
    return model, items


def test_unparsed_generations_are_kept_flagged_and_counted(tiny_items_model, tmp_path):
    model, items = tiny_items_model
    out = tmp_path / "random.jsonl"
    summary = generate(model, items, out, samples=2, temperature=1.0, max_new_tokens=8)
    rows = read_rows(out)
    assert len(rows) == summary.n_rows == 6  # nothing dropped
    unparsed = [r for r in rows if r["parse_error"]]
    assert unparsed, "a random model should not close a think block in 8 tokens"
    for row in unparsed:
        assert row["answer"] == "" and row["correct"] is False and "generation" in row
    assert summary.exclusions.total() == len(unparsed) == summary.n_rows - summary.n_parsed
    frame, ledger = read_traces(out)
    assert ledger.total() == len(unparsed) and (~frame["parsed"]).sum() == len(unparsed)


def test_prompt_style_uses_the_chat_template_only_when_there_is_one():
    plain = build_word_tokenizer(["hello there"])
    assert resolve_style(plain, "auto") == "plain"
    assert render_prompt(plain, "hello there", "plain") == "hello there"
    assert render_prompt(plain, "hello there", "plain", open_think=True) == "hello there <think>"
    rows = [{"item_id": "a", "prompt": "q ?", "completion": "<think> s . </think> yes"}]
    assert to_dataset_rows(rows, "plain") == [
        {"prompt": "q ?", "completion": " <think> s . </think> yes"}
    ]
    assert to_dataset_rows(rows, "plain", open_think=True) == [
        {"prompt": "q ? <think>", "completion": " s . </think> yes"}
    ]
    with pytest.raises(InputError, match="chat template"):
        resolve_style(plain, "chat")
    template = "{% for m in messages %}<u> {{ m['content'] }} {% endfor %}<a>"
    chat = build_word_tokenizer(
        ["hello there"], whole_tokens=("<u>", "<a>"), chat_template=template
    )
    assert resolve_style(chat, "auto") == "chat"
    assert render_prompt(chat, "hello there", "chat") == "<u> hello there <a>"


def test_cli_generate_and_its_bad_input(tiny_items_model, tmp_path, capsys):
    model, items = tiny_items_model
    out = tmp_path / "cli.jsonl"
    assert (
        run(
            [
                "generate",
                "--model",
                str(model),
                "--items",
                str(items),
                "--out",
                str(out),
                "--max-new-tokens",
                "4",
                "--name",
                "tiny",
            ]
        )
        == 0
    )
    assert "3 traces" in capsys.readouterr().out
    assert {r["model"] for r in read_rows(out)} == {"tiny"}

    bad = [
        (["--batch-size", "0"], "batch_size"),
        (["--backend", "nope"], "backend"),
    ]
    if importlib.util.find_spec("vllm") is None:
        bad.append((["--backend", "vllm"], "vllm"))
    for extra, word in bad:
        code = run(
            [
                "generate",
                "--model",
                str(model),
                "--items",
                str(items),
                "--out",
                str(tmp_path / "x.jsonl"),
                *extra,
            ]
        )
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error:") and word in err and "\n" not in err
    assert (
        run(
            [
                "generate",
                "--model",
                str(model),
                "--items",
                str(tmp_path / "none.csv"),
                "--out",
                str(tmp_path / "y.jsonl"),
            ]
        )
        == 2
    )
    assert "none.csv" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "y.jsonl").exists()
