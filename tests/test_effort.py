"""Probes of remaining effort along the trace: capture parity with HF, a planted signal found at
its layer only, item-level statistics, and the `mimicry effort` command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from mimicry.data.exclusions import Exclusions
from mimicry.probes.architectures import resolve_path, validate_architecture
from mimicry.probes.capture.along import (
    AlongOptions,
    capture_along,
    encode_along,
    parsed_reasoning,
    token_batches,
    trace_offsets,
)
from mimicry.probes.capture.inputs import collate
from mimicry.probes.loading import load_tokenizer
from mimicry.probes.probing.effort import EffortConfig, probe_effort
from mimicry.probes.probing.effort_stats import item_counts, paired_difference, r2_with_item_ci
from tests.roster import write_roster
from tests.tiny_models import make_tiny_model

WORDS = "A B C is left of so therefore because wait hmm north south east west step yes no".split()
SIGNAL_LAYER = 2
N_LAYERS = 4


def make_items(n: int = 30, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """Items of two tasks, six groups each, with reasoning of 6..40 random words."""
    rng = np.random.default_rng(seed)
    ids = [f"i{k:02d}" for k in range(n)]
    tasks = ["taskA" if k % 2 else "taskB" for k in range(n)]
    items = pd.DataFrame(
        {
            "item_id": ids,
            "task": tasks,
            "prompt": [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 8)))) for _ in ids],
            "answer": "yes",
            "human_rt_ms": rng.normal(3000, 500, size=n),
            "group": [f"g{k % 12}" for k in range(n)],
            "feat_steps": rng.integers(1, 5, size=n),
        }
    )
    reasoning = {i: " ".join(rng.choice(WORDS, size=int(rng.integers(6, 41)))) for i in ids}
    return items, reasoning


def tiny(tmp_path: Path, arch: str = "qwen2", seed: int = 0):
    folder = make_tiny_model(tmp_path / f"{arch}-{seed}", arch, seed=seed, n_layers=N_LAYERS)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), load_tokenizer(folder), folder


def _hf_hidden(model, batch) -> torch.Tensor:
    """HF `output_hidden_states` with the last entry taken before the final norm (the capture's
    convention), position ids from the mask: [batch, layers + 1, seq, d_model]."""
    seen = {}
    last_block = resolve_path(model, validate_architecture(model).layers)[-1]
    handle = last_block.register_forward_hook(lambda m, a, o: seen.setdefault("o", o))
    with torch.no_grad():
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            output_hidden_states=True,
        )
    handle.remove()
    last = seen["o"][0] if isinstance(seen["o"], tuple) else seen["o"]
    return torch.stack([*out.hidden_states[:-1], last], dim=1)


def test_offsets_and_batches():
    assert trace_offsets(10, (0.0, 0.5, 1.0), 0) == (0, 5, 10)
    assert trace_offsets(10, (), 4) == (0, 4, 8)
    assert token_batches([100, 10, 50], 8, 120) == [[0], [2, 1]]


def test_parsed_reasoning_counts_unparsed():
    traces = pd.DataFrame(
        {
            "item_id": ["a", "a", "b"],
            "sample": [0, 1, 0],
            "reasoning": ["x", "y", "z"],
            "parse_error": ["no_answer", "", "unclosed_think"],
        }
    )
    ledger = Exclusions()
    assert parsed_reasoning(traces, "m", ledger) == {"a": "y"}
    assert ledger.total() == 2  # two unparsed samples (items left without one: encode_along)


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", ["qwen2", "gpt2"])
def test_along_equals_hf_hidden_states(tmp_path, arch, device):
    """Every captured row equals HF hidden states at its token within 1e-5 (fp32 on CPU; GPU
    kernels differ by ~1e-3 between batch shapes); batched equals unbatched."""
    tol = 1e-5 if device == "cpu" else 1e-3
    model, tokenizer, _ = tiny(tmp_path, arch)
    model = model.to(device)
    items, reasoning = make_items(6)
    options = AlongOptions(fractions=(0.0, 0.3, 1.0), every=3, batch_size=4)
    acts = capture_along(
        model, tokenizer, items, reasoning, tmp_path / "b", name="m", options=options
    )
    single = AlongOptions(fractions=(0.0, 0.3, 1.0), every=3, batch_size=1)
    alone = capture_along(
        model, tokenizer, items, reasoning, tmp_path / "u", name="m", options=single
    )
    encoded = {
        a.item.item_id: a
        for a in encode_along(
            tokenizer, items, reasoning, options, model="m", exclusions=Exclusions()
        )
    }
    batch = collate([a.item for a in encoded.values()], tokenizer.pad_token_id)
    hidden = _hf_hidden(model, batch.to(device)).cpu()
    width = batch.input_ids.shape[1]
    resid = acts.all_layers()
    for b, (item_id, along) in enumerate(encoded.items()):
        rows = acts.rows[acts.rows.item_id == item_id]
        assert rows["offset"].tolist() == list(along.offsets)
        cols = width - len(along.item.input_ids) + rows["token_index"].to_numpy()
        expected = hidden[b][:, cols].permute(1, 0, 2).numpy()
        np.testing.assert_allclose(resid[rows["row"].to_numpy()], expected, atol=tol, rtol=0)
    key = ["item_id", "offset"]
    order = alone.rows.set_index(key).loc[pd.MultiIndex.from_frame(acts.rows[key]), "row"]
    np.testing.assert_allclose(resid, alone.all_layers()[order.to_numpy()], atol=tol, rtol=0)
    assert (acts.rows["remaining"] == acts.rows["trace_len"] - acts.rows["offset"]).all()


def test_capture_resumes_and_reuses(tmp_path, monkeypatch):
    """A capture killed after its first shard resumes there; an up-to-date one is reused."""
    import mimicry.probes.capture.along as along

    model, tokenizer, _ = tiny(tmp_path)
    items, reasoning = make_items(8)
    options = AlongOptions(every=2, batch_size=2, shard_rows=20)
    real, calls = along.run_batch, []

    def dying(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(along, "run_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        capture_along(
            model,
            tokenizer,
            items,
            reasoning,
            tmp_path / "a",
            name="m",
            options=options,
            model_key="k",
        )
    assert not (tmp_path / "a").exists() and len(list((tmp_path / ".a.partial").glob("shard-*")))
    monkeypatch.setattr(along, "run_batch", real)
    counted = []
    monkeypatch.setattr(along, "run_batch", lambda *a: counted.append(1) or real(*a))
    acts = capture_along(
        model, tokenizer, items, reasoning, tmp_path / "a", name="m", options=options, model_key="k"
    )
    assert 0 < len(counted) < 4 and acts.manifest["n_shards"] > 1
    assert acts.rows["item_id"].nunique() == 8 and not (tmp_path / ".a.partial").exists()
    counted.clear()
    again = capture_along(
        model, tokenizer, items, reasoning, tmp_path / "a", name="m", options=options, model_key="k"
    )
    assert not counted and len(again.rows) == len(acts.rows)
    np.testing.assert_array_equal(again.layer(2), acts.layer(2))


def plant(acts, layer: int, values: np.ndarray, seed: int = 0, strength: float = 4.0) -> None:
    """Add a direction carrying `values` (z-scored) to one layer of every shard, in place."""
    rng = np.random.default_rng(seed)
    direction = torch.tensor(rng.normal(size=acts.d_model), dtype=torch.float32)
    direction /= direction.norm()
    z = torch.tensor((values - values.mean()) / values.std(), dtype=torch.float32)
    start = 0
    for index in range(acts.manifest["n_shards"]):
        path = acts.shard_path(index)
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
        tensors = load_file(str(path))
        resid = tensors["resid"]
        n = len(resid)
        scale = strength * resid[:, layer].std()
        resid[:, layer] += scale * z[start : start + n, None] * direction
        start += n
        save_file(tensors, str(path), metadata=metadata)


def test_planted_remaining_found_at_its_layer_only(tmp_path):
    model, tokenizer, _ = tiny(tmp_path)
    items, reasoning = make_items(36)
    options = AlongOptions(fractions=(), every=2, batch_size=8)
    acts = capture_along(
        model, tokenizer, items, reasoning, tmp_path / "acts", name="m", options=options
    )
    plant(acts, SIGNAL_LAYER, acts.rows["remaining"].to_numpy(float))
    config = EffortConfig(folds=4, n_boot=200, targets=("remaining",))
    fit = probe_effort(acts, items, model="m", reading="teacher_traces", config=config)
    table = fit.table.set_index(["feature_set", "layer"])
    scores = table.loc["activations", "score"]
    print(table[["score", "ci_low", "ci_high", "control_score"]])
    assert scores.idxmax() == SIGNAL_LAYER and fit.best_layer["remaining"] == SIGNAL_LAYER
    assert scores[SIGNAL_LAYER] > 0.8
    assert (scores.drop(SIGNAL_LAYER) < 0.5).all()
    assert (table.loc["activations", "control_score"] < 0.1).all()
    assert table.loc[("surface", -1), "score"] < scores[SIGNAL_LAYER] - 0.3
    signal = table.loc[("activations", SIGNAL_LAYER)]
    assert signal["ci_low"] < signal["score"] < signal["ci_high"] and signal["ci_low"] > 0.6
    assert set(fit.bins["target"]) == {"remaining"} and fit.bins["layer"].eq(SIGNAL_LAYER).all()


def test_item_bootstrap_and_paired_difference():
    counts = item_counts(5, 100, seed=0)
    assert counts.shape == (100, 5) and (counts.sum(axis=1) == 5).all()
    rng = np.random.default_rng(0)
    ids = np.repeat([f"i{k}" for k in range(40)], 5)
    y = rng.normal(size=len(ids))
    good, bad = y + 0.3 * rng.normal(size=len(y)), y + 2.0 * rng.normal(size=len(y))
    score, low, high = r2_with_item_ci(y, good, ids, n_boot=200, seed=0)
    assert low < score < high and score > 0.8
    diff = paired_difference((ids, y, bad), (ids, y, good), n_boot=200, seed=0)
    assert diff["n_items"] == 40 and diff["ci_high"] < 0 and diff["diff"] < -1


def _write_traces(path: Path, model: str, reasoning: dict[str, str], broken=()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for item_id, text in reasoning.items():
        error = "no_answer" if item_id in broken else ""
        lines.append(
            {
                "item_id": item_id,
                "model": model,
                "sample": 0,
                "reasoning": text,
                "answer": "" if error else "yes",
                "correct": not error,
                "n_reasoning_tokens": len(text.split()),
                "parse_error": error,
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def make_effort_run(tmp_path: Path) -> Path:
    """A run with teacher, base and one student (tiny models), traces and a random-init base."""
    run = tmp_path / "run"
    items, teacher_text = make_items(24)
    run.mkdir(parents=True)
    items.to_csv(run / "items.csv", index=False)
    _, student_text = make_items(24, seed=1)
    folders = {
        "teacher": tiny(tmp_path, seed=1)[2],
        "base": tiny(tmp_path, seed=2)[2],
        "student_original": tiny(tmp_path, seed=3)[2],
        "base__random_init": tiny(tmp_path, seed=4)[2],
    }
    for name, folder in folders.items():
        manifest = {"source": str(folder), "template": "raw", "think_tags": ["<think>", "</think>"]}
        (run / "activations" / name).mkdir(parents=True)
        (run / "activations" / name / "manifest.json").write_text(json.dumps(manifest))
    _write_traces(run / "traces" / "teacher.jsonl", "teacher", teacher_text)
    _write_traces(run / "traces" / "base.jsonl", "base", student_text)
    _write_traces(
        run / "traces" / "student_original.jsonl", "student_original", student_text, broken={"i03"}
    )
    write_roster(run, ["teacher", "base", "student_original"])
    return run


def test_effort_command_and_report_section(tmp_path):
    import typer

    from mimicry.experiments.commands.effort_cmd import register
    from mimicry.experiments.report import figures
    from mimicry.experiments.report.collect import collect
    from mimicry.experiments.report.effort_section import effort_section
    from mimicry.probes.probing.effort import EFFORT_COLUMNS

    run = make_effort_run(tmp_path)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    args = ["effort", str(run), "--fractions", "0,0.25,0.5,0.75,1", "--every", "4", "--folds", "3"]
    app(args=[*args, "--n-boot", "50"], standalone_mode=False)
    table = pd.read_csv(run / "effort" / "effort.csv")
    assert list(table.columns) == list(EFFORT_COLUMNS)
    assert set(table["reading"]) == {"teacher_traces", "own_traces"}
    assert set(table["model"]) == {"teacher", "base", "student_original"}
    assert set(table["feature_set"]) == {"activations", "random_init", "surface"}
    assert set(table[table.feature_set == "random_init"]["model"]) == {"base"}
    compare = pd.read_csv(run / "effort" / "effort_compare.csv")
    assert set(compare["model"]) == {"base", "student_original"} and compare["diff"].notna().all()
    exclusions = pd.read_csv(run / "effort" / "exclusions.csv")
    assert "no_parsed_trace" in set(exclusions["reason"])
    student = table[(table.model == "student_original") & (table.reading == "own_traces")]
    assert student["n_items"].max() == 23  # the unparsed trace is left out
    tables = collect(run)
    section = effort_section(
        tables, figures.model_colours(["teacher", "base", "student_original"], tables.roster)
    )
    assert section.figures and any(
        "student_original on its own traces" in p for p in section.paragraphs
    )
    presence = section.tables[0][1].set_index("model")
    assert presence.loc["student_original", "read on own traces"] == "yes"


def test_trace_length_counts_the_reasoning_tokens_with_and_without_think_tags(tmp_path):
    """Tags: the tokens between <think> and </think>; a convention whose reasoning ends at an
    answer marker has no close tag in its input, so nothing is subtracted for one."""
    from mimicry.probes.prompting import PromptConvention

    _, tokenizer, _ = tiny(tmp_path)
    items, reasoning = make_items(4)
    no_tags = PromptConvention(style="plain", instruction="", answer_pattern="the answer is")
    for template, text in (("raw", " {}"), (no_tags.as_dict(), "{}")):
        options = AlongOptions(fractions=(0.0, 1.0), template=template)
        encoded = encode_along(
            tokenizer, items, reasoning, options, model="m", exclusions=Exclusions()
        )
        assert len(encoded) == 4
        for along in encoded:
            words = text.format(reasoning[along.item.item_id].strip())
            expected = len(tokenizer(words, add_special_tokens=False)["input_ids"])
            assert along.trace_len == expected
