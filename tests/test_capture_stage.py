"""The capture stage end to end: run-directory files, exclusions, skip on rerun, resume after an
interruption, and one-line errors for bad input (exit 2, nothing written)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, GPTNeoXConfig

from mimicry.experiments.cli import run
from mimicry.probes.capture import capture_run
from mimicry.probes.loading import load_tokenizer
from tests.tiny_models import make_tiny_model

PROMPTS = (
    "A is left of B . Is A left of C ?",
    "All artists are bakers .",
    "If the light is on then the door is open . What follows ?",
    "north south",
    "0 1 2 3 4 5 6 7 8 9",
    "B is left of C .",
    "Let me think step by step .",
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Seven items, traces (sample 0, plus an ignored sample 1) for all but the last."""
    root = tmp_path_factory.mktemp("capture-inputs")
    items = pd.DataFrame(
        {
            "item_id": [f"item{k}" for k in range(len(PROMPTS))],
            "task": ["relational"] * len(PROMPTS),
            "prompt": list(PROMPTS),
            "answer": ["yes"] * len(PROMPTS),
        }
    )
    items.to_csv(root / "items.csv", index=False)
    with (root / "traces.jsonl").open("w") as handle:
        for k in range(len(PROMPTS) - 1):
            for sample in (0, 1):
                reasoning = " ".join(["so A is left of C"] * (k % 3 + 1 + sample))
                line = dict(
                    item_id=f"item{k}",
                    model="teacher",
                    sample=sample,
                    reasoning=reasoning,
                    answer="yes",
                    correct=True,
                    n_reasoning_tokens=len(reasoning.split()),
                )
                handle.write(json.dumps(line) + "\n")
    return root


def _cli(model, inputs, out, *extra):
    return run(
        [
            "capture",
            "--model",
            str(model),
            "--items",
            str(inputs / "items.csv"),
            "--traces",
            str(inputs / "traces.jsonl"),
            "--out",
            str(out),
            "--name",
            "tiny",
            "--batch-size",
            "3",
            "--shard-size",
            "2",
            *extra,
        ]
    )


def test_cli_writes_the_run_contract_in_item_order(tiny_model_factory, inputs, tmp_path):
    model_path = tiny_model_factory("qwen2")
    assert _cli(model_path, inputs, tmp_path) == 0
    out = tmp_path / "activations" / "tiny"
    manifest = json.loads((out / "manifest.json").read_text())
    kept = [f"item{k}" for k in range(len(PROMPTS) - 1)]
    assert manifest["item_ids"] == kept
    assert manifest["positions"] == ["last_prompt", "mean_prompt", "mean_trace", "think_open"]
    assert (manifest["n_layers"], manifest["d_model"], manifest["padding_side"]) == (2, 64, "left")
    exclusions = pd.read_csv(out / "exclusions.csv")
    assert exclusions[["reason", "n", "example"]].values.tolist() == [["no_trace", 1, "item6"]]
    assert pd.read_csv(tmp_path / "items.csv")["item_id"].tolist() == [f"item{k}" for k in range(7)]

    # Rows follow item_ids although batches were length-sorted and split over shards.
    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    last_prompt = load_file(out / "last_prompt.safetensors")["resid"]
    think_open = load_file(out / "think_open.safetensors")["resid"]
    assert last_prompt.shape == (6, 3, 64)
    for row, item_id in enumerate(kept):
        k = int(item_id.removeprefix("item"))
        prompt_ids = tokenizer(PROMPTS[k])["input_ids"]
        ids = torch.tensor(
            [prompt_ids + tokenizer(" <think>", add_special_tokens=False)["input_ids"]]
        )
        with torch.no_grad():
            hidden = model(ids, output_hidden_states=True).hidden_states
        torch.testing.assert_close(
            last_prompt[row, :2],
            torch.stack(hidden[:2])[:, 0, len(prompt_ids) - 1],
            atol=1e-5,
            rtol=0,
        )
        torch.testing.assert_close(
            think_open[row, :2], torch.stack(hidden[:2])[:, 0, -1], atol=1e-5, rtol=0
        )

    entropy = pd.read_csv(tmp_path / "entropy" / "tiny.csv")
    assert list(entropy.columns) == [
        "item_id",
        "layer",
        "head",
        "region",
        "entropy",
        "entropy_norm",
    ]
    assert len(entropy) == 6 * 2 * 4 * 2
    assert set(entropy["layer"]) == {1, 2} and set(entropy["region"]) == {"prompt", "trace"}
    assert (entropy["entropy"] > 0).all() and entropy["entropy_norm"].between(0, 1.0001).all()

    before = (out / "mean_trace.safetensors").stat().st_mtime_ns
    assert _cli(model_path, inputs, tmp_path) == 0
    assert (out / "mean_trace.safetensors").stat().st_mtime_ns == before


def test_interrupted_capture_resumes_to_identical_output(tiny_model_factory, inputs, tmp_path):
    model_path = tiny_model_factory("llama")
    options = dict(traces=inputs / "traces.jsonl", batch_size=3, shard_size=2)
    capture_run(model_path, inputs / "items.csv", tmp_path / "whole", "m", **options)

    class Stop(Exception):
        pass

    def stop_after_first(index, n_shards):
        if index == 1:
            raise Stop

    with pytest.raises(Stop):
        capture_run(
            model_path,
            inputs / "items.csv",
            tmp_path / "cut",
            "m",
            on_shard=stop_after_first,
            **options,
        )
    partial = tmp_path / "cut" / "activations" / ".m.partial"
    assert sorted(p.name for p in partial.glob("shard-*")) == [
        "shard-00000.safetensors",
        "shard-00001.safetensors",
    ]
    assert not (tmp_path / "cut" / "activations" / "m").exists()

    ran = []
    result = capture_run(
        model_path,
        inputs / "items.csv",
        tmp_path / "cut",
        "m",
        on_shard=lambda i, n: ran.append(i),
        **options,
    )
    assert ran == [2] and not result.skipped and not partial.exists()
    for name in ("last_prompt", "mean_prompt", "mean_trace", "think_open"):
        whole = (tmp_path / "whole" / "activations" / "m" / f"{name}.safetensors").read_bytes()
        assert (
            tmp_path / "cut" / "activations" / "m" / f"{name}.safetensors"
        ).read_bytes() == whole
    whole_csv = (tmp_path / "whole" / "entropy" / "m.csv").read_text()
    assert (tmp_path / "cut" / "entropy" / "m.csv").read_text() == whole_csv
    assert capture_run(model_path, inputs / "items.csv", tmp_path / "cut", "m", **options).skipped


def test_unknown_architecture_is_one_line_exit_2(inputs, tmp_path, capsys):
    tokenizer = load_tokenizer(make_tiny_model(tmp_path / "ref", "gpt2"))
    config = GPTNeoXConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    model_dir = tmp_path / "neox"
    AutoModelForCausalLM.from_config(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    capsys.readouterr()
    assert _cli(model_dir, inputs, tmp_path / "run") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown architecture 'gpt_neox'" in err and "qwen2" in err
    assert not (tmp_path / "run").exists()


def test_trace_positions_without_traces_is_input_error(
    tiny_model_factory, inputs, tmp_path, capsys
):
    code = run(
        [
            "capture",
            "--model",
            str(tiny_model_factory("gpt2")),
            "--items",
            str(inputs / "items.csv"),
            "--out",
            str(tmp_path / "run"),
            "--positions",
            "mean_trace",
        ]
    )
    assert code == 2
    assert "need reasoning text; pass --traces" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
