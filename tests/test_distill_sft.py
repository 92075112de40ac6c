"""`mimicry distill`: real trl SFT on tiny models; the student reloads with AutoModelForCausalLM,
its loss fell, LoRA is merged on save, an interrupted run resumes, bad input is one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, TrainerCallback

from mimicry.distill.checkpoint_files import checkpoint_problem
from mimicry.distill.sft import CHECKPOINT_DIR, train_student
from mimicry.experiments.cli import run
from tests.tiny_models import make_tiny_model

WORDS = ("one", "two", "three", "four")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread on a shared CPU; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def sft_set(tmp_path_factory):
    """An ablation-set folder (train.jsonl) and a tiny base model whose vocabulary covers it."""
    root = tmp_path_factory.mktemp("sft")
    rows = []
    for k, word in enumerate(WORDS, start=1):
        for x in "AB":
            steps = " ".join(f"step {WORDS[j]} ." for j in range(k))
            rows.append(
                {
                    "item_id": f"{word}{x}",
                    "prompt": f"chain {word} from {x} ?",
                    "completion": f"<think> {steps} </think> done",
                }
            )
    data = root / "original"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts = [f"{r['prompt']} {r['completion']}" for r in rows]
    return data, texts, root


def read_log(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_student_reloads_and_its_loss_fell(sft_set, tmp_path):
    data, texts, _ = sft_set
    base = make_tiny_model(tmp_path / "base", "gpt2", texts=texts)
    out = tmp_path / "students" / "original"
    summary = train_student(base, data, out, max_steps=20, learning_rate=5e-3, batch_size=8)
    student = AutoModelForCausalLM.from_pretrained(out)
    assert student.config.model_type == "gpt2"
    log = read_log(out / "training_log.csv")
    assert [int(r["step"]) for r in log] == list(range(1, 21))
    losses = [float(r["loss"]) for r in log]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert summary.first_loss == losses[0] and summary.last_loss == losses[-1]
    assert not (out / CHECKPOINT_DIR).exists()
    assert (out / "tokenizer.json").is_file() and (out / "model.safetensors").is_file()
    assert train_student(base, data, out, max_steps=20, learning_rate=5e-3, batch_size=8).skipped


class StopAt(TrainerCallback):
    """Kill training after a given step (a real interruption, not a mock)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_from_the_last_checkpoint(sft_set, tmp_path):
    data, texts, _ = sft_set
    base = make_tiny_model(tmp_path / "base", "llama", texts=texts)
    out = tmp_path / "student"
    options = dict(max_steps=8, learning_rate=5e-3, batch_size=4, save_steps=3)
    with pytest.raises(KeyboardInterrupt):
        train_student(base, data, out, callbacks=[StopAt(5)], **options)
    assert (out / CHECKPOINT_DIR / "checkpoint-3").is_dir()
    assert not (out / "training_log.csv").exists()
    summary = train_student(base, data, out, **options)
    assert summary.resumed_from_step == 3 and summary.steps == 8
    assert [int(r["step"]) for r in read_log(out / "training_log.csv")] == list(range(1, 9))
    assert not (out / CHECKPOINT_DIR).exists()
    AutoModelForCausalLM.from_pretrained(out)


@pytest.mark.parametrize(
    "kill",
    [
        "state_missing",  # killed after the weights, before trainer_state.json
        "optimizer_truncated",  # killed inside the optimizer write
        "weights_truncated",  # killed inside the weights write
    ],
)
def test_a_kill_inside_a_checkpoint_write_resumes_from_the_previous_one(sft_set, tmp_path, kill):
    """A half-written last checkpoint is removed; training resumes from the one before and the
    student equals an uninterrupted run's."""
    data, texts, _ = sft_set
    base = make_tiny_model(tmp_path / "base", "llama", texts=texts)
    options = dict(max_steps=8, learning_rate=5e-3, batch_size=4, save_steps=3)
    reference = tmp_path / "reference"
    train_student(base, data, reference, **options)

    out = tmp_path / "student"
    with pytest.raises(KeyboardInterrupt):
        train_student(base, data, out, callbacks=[StopAt(7)], **options)
    last = out / CHECKPOINT_DIR / "checkpoint-6"
    assert (
        checkpoint_problem(last) is None
        and checkpoint_problem(last.with_name("checkpoint-3")) is None
    )
    if kill == "state_missing":
        for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
            (last / name).unlink(missing_ok=True)
    else:
        name = "optimizer.pt" if kill == "optimizer_truncated" else "model.safetensors"
        (last / name).write_bytes((last / name).read_bytes()[: (last / name).stat().st_size // 2])
    assert checkpoint_problem(last) is not None

    summary = train_student(base, data, out, **options)
    assert summary.resumed_from_step == 3 and summary.steps == 8
    assert [int(r["step"]) for r in read_log(out / "training_log.csv")] == list(range(1, 9))
    assert not (out / CHECKPOINT_DIR).exists()
    got, want = load_file(out / "model.safetensors"), load_file(reference / "model.safetensors")
    assert set(got) == set(want)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_only_incomplete_checkpoints_fall_back_to_a_fresh_start(sft_set, tmp_path):
    data, texts, _ = sft_set
    base = make_tiny_model(tmp_path / "base", "gpt2", texts=texts)
    options = dict(max_steps=4, learning_rate=5e-3, batch_size=4, save_steps=2)
    out = tmp_path / "student"
    with pytest.raises(KeyboardInterrupt):
        train_student(base, data, out, callbacks=[StopAt(3)], **options)
    only = out / CHECKPOINT_DIR / "checkpoint-2"
    (only / "trainer_state.json").write_text('{"global_step": 2,')  # cut mid-write
    (out / CHECKPOINT_DIR / "tmp-checkpoint-3").mkdir()
    summary = train_student(base, data, out, **options)
    assert summary.resumed_from_step == 0 and summary.steps == 4
    assert not (out / CHECKPOINT_DIR).exists()


def test_lora_student_is_merged_into_a_plain_model(sft_set, tmp_path):
    data, texts, _ = sft_set
    base = make_tiny_model(tmp_path / "base", "qwen2", texts=texts)
    out = tmp_path / "lora"
    summary = train_student(
        base, data, out, lora=True, lora_r=4, max_steps=6, learning_rate=1e-2, batch_size=8
    )
    assert summary.steps == 6
    assert not (out / "adapter_config.json").exists()
    before, after = load_file(base / "model.safetensors"), load_file(out / "model.safetensors")
    assert set(before) == set(after)  # no lora_A/lora_B left: merged
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("q_proj" in k for k in changed) and not any("embed" in k for k in changed)
    AutoModelForCausalLM.from_pretrained(out)


def test_cli_distill_and_bad_training_data(sft_set, tmp_path, capsys):
    data, texts, root = sft_set
    base = make_tiny_model(tmp_path / "base", "gpt2", texts=texts)
    out = tmp_path / "cli-student"
    code = run(
        [
            "distill",
            "--student",
            str(base),
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-steps",
            "3",
            "--learning-rate",
            "1e-3",
            "--batch-size",
            "4",
        ]
    )
    assert code == 0 and "3 steps" in capsys.readouterr().out

    bad = tmp_path / "bad"
    bad.mkdir()
    cases = [
        ("", "no training examples"),
        ('{"item_id": "a", "prompt": "p"}\n', "field 'completion'"),
        ('{"item_id": "a", "prompt": "p", "completion": "  "}\n', "row 1: field 'completion'"),
        ("not json\n", "malformed JSON"),
    ]
    for content, message in cases:
        (bad / "train.jsonl").write_text(content)
        code = run(
            ["distill", "--student", str(base), "--data", str(bad), "--out", str(tmp_path / "x")]
        )
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and "\n" not in err
    assert (
        run(
            [
                "distill",
                "--student",
                str(base),
                "--data",
                str(root / "missing"),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "training file not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_chat_template_student_round_trip(tmp_path):
    """A tiny model with QwQ's chat template: SFT in conversational form, then generation through
    the template stops at the turn marker and parses."""
    import pandas as pd

    from mimicry.distill.generate import generate
    from tests.tiny_models import make_tiny_like

    rows = [
        {
            "item_id": f"i{k}",
            "prompt": f"chain {w} ?",
            "completion": f"<think> step {w} . </think> done",
        }
        for k, w in enumerate(WORDS[:3])
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = make_tiny_like(
        tmp_path / "base", "qwq-32b", texts=[f"{r['prompt']} {r['completion']}" for r in rows]
    )
    train_student(
        base, tmp_path, tmp_path / "student", max_steps=40, learning_rate=1e-2, batch_size=3
    )
    items = pd.DataFrame(
        [
            {"item_id": r["item_id"], "task": "t", "prompt": r["prompt"], "answer": "done"}
            for r in rows
        ]
    )
    items.to_csv(tmp_path / "items.csv", index=False)
    summary = generate(
        tmp_path / "student", tmp_path / "items.csv", tmp_path / "traces.jsonl", max_new_tokens=20
    )
    traces = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert summary.n_parsed == 3 and all(t["finished"] and t["answer"] == "done" for t in traces)
    assert all(t["reasoning"].startswith("step ") for t in traces)


def test_non_utf8_training_file_is_one_line_exit_2(tmp_path, capsys):
    from mimicry.experiments.cli import run

    data = tmp_path / "set"
    data.mkdir()
    (data / "train.jsonl").write_bytes(
        b'{"item_id": "a", "prompt": "p", "completion": "caf\xe9"}\n'
    )
    code = run(
        [
            "distill",
            "--student",
            str(tmp_path / "none"),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.jsonl" in err[0] and "UTF-8" in err[0]
    assert not (tmp_path / "s").exists()
