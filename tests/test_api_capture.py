"""The in-memory capture API: `capture(model_or_path, items) -> Capture`.

It must equal the run-folder stage (same tensors, same entropy values), `Capture.save` must write
the stage's layout byte for byte, activations must equal HF `output_hidden_states`, and a loaded
model must come back as it was given.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from mimicry.data.errors import InputError
from mimicry.probes.capture import Capture, capture, capture_run
from mimicry.probes.loading import load_tokenizer

PROMPTS = (
    "A is left of B . Is A left of C ?",
    "All artists are bakers .",
    "If the light is on then the door is open . What follows ?",
    "north south",
    "0 1 2 3 4 5 6 7 8 9",
)
POSITIONS = ("last_prompt", "mean_prompt", "mean_trace", "think_open")


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"item{k}" for k in range(len(PROMPTS))],
            "task": ["relational"] * len(PROMPTS),
            "prompt": list(PROMPTS),
            "answer": ["yes"] * len(PROMPTS),
        }
    )


@pytest.fixture(scope="module")
def traces() -> pd.DataFrame:
    """Sample 0 for every item but the last (which capture must exclude), plus a sample 1."""
    rows = []
    for k in range(len(PROMPTS) - 1):
        for sample in (0, 1):
            reasoning = " ".join(["so A is left of C"] * (k % 3 + 1 + sample))
            rows.append(
                dict(
                    item_id=f"item{k}",
                    model="teacher",
                    sample=sample,
                    reasoning=reasoning,
                    answer="yes",
                    correct=True,
                    n_reasoning_tokens=len(reasoning.split()),
                )
            )
    return pd.DataFrame(rows)


def _write_inputs(tmp_path, items, traces):
    items.to_csv(tmp_path / "items.csv", index=False)
    with (tmp_path / "traces.jsonl").open("w") as handle:
        for row in traces.to_dict(orient="records"):
            handle.write(json.dumps(row) + "\n")
    return tmp_path / "items.csv", tmp_path / "traces.jsonl"


def test_in_memory_capture_equals_the_run_folder_stage(tiny_model_factory, items, traces, tmp_path):
    model_path = tiny_model_factory("qwen2")
    items_path, traces_path = _write_inputs(tmp_path, items, traces)
    capture_run(
        model_path, items_path, tmp_path / "stage", "m", traces=traces_path, batch_size=3,
        shard_size=2,
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(model_path)
    result = capture(
        model, items, tokenizer=load_tokenizer(model_path), traces=traces, name="m",
        batch_size=3, shard_size=2,
    )  # fmt: skip

    assert isinstance(result, Capture)
    assert repr(result).startswith("Capture(model='m', positions=['last_prompt'")
    assert "resid=(4, 3, 64)" in repr(result) and "excluded=1" in repr(result)
    kept = [f"item{k}" for k in range(len(PROMPTS) - 1)]
    assert result.item_ids == kept and result.positions == list(POSITIONS)
    assert result.exclusions.rows()[0]["reason"] == "no_trace"
    stage_dir = tmp_path / "stage" / "activations" / "m"
    for position in POSITIONS:
        assert result[position].shape == (4, 3, 64)
        stage = load_file(stage_dir / f"{position}.safetensors")["resid"]
        torch.testing.assert_close(result[position], stage, atol=0, rtol=0)
    csv = pd.read_csv(tmp_path / "stage" / "entropy" / "m.csv", keep_default_na=False)
    assert list(result.entropy.columns) == list(csv.columns)
    assert len(result.entropy) == len(csv) == 4 * 2 * 4 * 2
    pd.testing.assert_frame_equal(
        result.entropy[["item_id", "layer", "head", "region"]],
        csv[["item_id", "layer", "head", "region"]],
    )
    for column in ("entropy", "entropy_norm"):
        assert result.entropy[column].to_numpy() == pytest.approx(csv[column].to_numpy(), rel=1e-7)
    assert (result.entropy["entropy"] > 0).all()

    # Written only when asked, and then exactly the stage's layout and bytes.
    assert not (tmp_path / "memory").exists()
    saved = result.save(tmp_path / "memory")
    assert saved == tmp_path / "memory" / "activations" / "m"
    for position in POSITIONS:
        file = f"{position}.safetensors"
        assert (saved / file).read_bytes() == (stage_dir / file).read_bytes()
    entropy_csv = (tmp_path / "memory" / "entropy" / "m.csv").read_text()
    assert entropy_csv == (tmp_path / "stage" / "entropy" / "m.csv").read_text()
    assert (saved / "exclusions.csv").read_text() == (stage_dir / "exclusions.csv").read_text()
    ours, theirs = (json.loads((d / "manifest.json").read_text()) for d in (saved, stage_dir))
    differ = {k for k in ours if ours[k] != theirs.get(k)}
    assert differ == {"inputs_hash", "traces"}, differ
    memory_items = pd.read_csv(tmp_path / "memory" / "items.csv")
    assert memory_items["item_id"].tolist() == items["item_id"].tolist()
    assert not list((tmp_path / "memory" / "activations").glob(".m.partial"))


def test_capture_of_a_path_equals_hf_hidden_states(tiny_model_factory, items):
    model_path = tiny_model_factory("llama")
    result = capture(model_path, items, batch_size=2, entropy=False)
    assert result.entropy is None and result.positions == ["last_prompt", "mean_prompt"]
    assert result.manifest["n_layers"] == 2 and result.manifest["padding_side"] == "left"
    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    for row, prompt in enumerate(PROMPTS):
        ids = torch.tensor([tokenizer(prompt)["input_ids"]])
        with torch.no_grad():
            hidden = torch.stack(model(ids, output_hidden_states=True).hidden_states)[:, 0]
        # hidden_states[-1] is after the final norm; resid's last layer is before it.
        torch.testing.assert_close(
            result["last_prompt"][row, :2], hidden[:2, -1], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            result["mean_prompt"][row, :2], hidden[:2].mean(1), atol=1e-5, rtol=0
        )


def test_a_loaded_model_comes_back_as_it_was_given(tiny_model_factory, items):
    model_path = tiny_model_factory("gpt2")
    model = AutoModelForCausalLM.from_pretrained(model_path, attn_implementation="sdpa")
    model.train()  # dropout on: capture must read in eval mode and give training mode back
    tokenizer = load_tokenizer(model_path)
    first = capture(model, items, tokenizer=tokenizer, entropy_method="chunked")
    assert model.training and model.config._attn_implementation == "sdpa"
    second = capture(model, items, tokenizer=tokenizer, entropy_method="eager")
    assert model.config._attn_implementation == "sdpa"
    torch.testing.assert_close(first["last_prompt"], second["last_prompt"], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.tensor(first.entropy["entropy"].to_numpy()),
        torch.tensor(second.entropy["entropy"].to_numpy()),
        atol=1e-4,
        rtol=0,
    )
    with pytest.raises(InputError, match="needs its tokenizer"):
        capture(model, items)


def test_root_api_resolves_the_organism_and_nothing_else(tmp_path):
    import mimicry

    assert (mimicry.resolve_model("organism:teacher") / "config.json").is_file()
    assert mimicry.resolve_model(tmp_path) == tmp_path
    with pytest.raises(InputError, match="no organism model 'nope'"):
        mimicry.resolve_model("organism:nope")
    assert mimicry.capture.__module__ == "mimicry.api"
    assert mimicry.probe_layers.__module__ == "mimicry.probes.probing.layers"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_a_loaded_model_on_cuda_is_read_where_it_lives(tiny_model_factory, items):
    """No device given: batches go where the model's weights are; equal to CPU within GPU
    kernel tolerance."""
    model_path = tiny_model_factory("qwen2")
    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).to("cuda")
    on_gpu = capture(model, items, tokenizer=tokenizer, batch_size=2)
    assert on_gpu.manifest["device"].startswith("cuda")
    assert on_gpu.manifest["entropy_method"] == "chunked"
    on_cpu = capture(model_path, items, batch_size=2)
    for position in on_cpu.positions:
        assert on_gpu[position].device.type == "cpu"
        torch.testing.assert_close(on_gpu[position], on_cpu[position], atol=1e-3, rtol=1e-3)
    assert on_gpu.entropy["entropy"].to_numpy() == pytest.approx(
        on_cpu.entropy["entropy"].to_numpy(), abs=1e-3
    )


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [("shard_size", 0, "shard_size"), ("batch_size", -1, "batch_size")],
)
def test_a_bad_size_names_its_own_option(tiny_model_factory, option, value, field):
    items = pd.DataFrame(
        {"item_id": ["a"], "task": ["t"], "prompt": ["A is left of B ."], "answer": ["yes"]}
    )
    with pytest.raises(InputError) as error:
        capture(tiny_model_factory("qwen2"), items, **{option: value})
    assert error.value.field == field
