"""The key science test: a student distilled on `original` traces copies the teacher's
difficulty-tracking length; one distilled on `length_matched` traces of the same teacher does not.

Synthetic teacher: items need k = 1..6 steps, and the teacher's trace has k step sentences, so its
reasoning length tracks difficulty exactly. Both students go through the real stages: ablate ->
SFT (trl) -> generate (greedy) -> token counts.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from mimicry.data.stats import pearson
from mimicry.distill.ablate import build_sets
from mimicry.distill.generate import generate
from mimicry.distill.lexicon import ablation_vocabulary
from mimicry.distill.sft import train_student
from tests.tiny_models import make_tiny_model

WORDS = ("one", "two", "three", "four", "five", "six")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread on a shared CPU; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def correlation(x: list[float], y: list[float]) -> float:
    """The suite's Pearson r; 0 when either side is constant (a constant length tracks nothing)."""
    r = float(pearson(x, y))
    return 0.0 if math.isnan(r) else r


def test_length_matched_student_stops_tracking_difficulty(tmp_path):
    items, traces = [], []
    for k in range(1, 7):
        for entity in "ABCD":
            item_id = f"k{k}{entity}"
            prompt = f"chain {WORDS[k - 1]} from {entity} ?"
            reasoning = " ".join(f"step {WORDS[j]} ." for j in range(k))
            items.append({"item_id": item_id, "task": "chain", "prompt": prompt, "answer": "done"})
            traces.append(
                {
                    "item_id": item_id,
                    "model": "teacher",
                    "sample": 0,
                    "reasoning": reasoning,
                    "answer": "done",
                    "correct": True,
                    "n_reasoning_tokens": 3 * k,
                    "task": "chain",
                    "prompt": prompt,
                }
            )
    pd.DataFrame(items).to_csv(tmp_path / "items.csv", index=False)
    (tmp_path / "teacher.jsonl").write_text("".join(json.dumps(t) + "\n" for t in traces))
    difficulty = [int(t["item_id"][1]) for t in traces]
    teacher_r = correlation(difficulty, [t["n_reasoning_tokens"] for t in traces])
    assert teacher_r > 0.99

    build_sets(
        tmp_path / "teacher.jsonl", tmp_path / "ablations", sets=("original", "length_matched")
    )
    texts = [f"{t['prompt']} {t['reasoning']} done" for t in traces]
    base = make_tiny_model(
        tmp_path / "base", "gpt2", texts=[*texts, " ".join(ablation_vocabulary())]
    )

    results = {}
    for condition in ("original", "length_matched"):
        summary = train_student(
            base,
            tmp_path / "ablations" / condition,
            tmp_path / "students" / condition,
            max_steps=60,
            learning_rate=1e-2,
            batch_size=24,
        )
        assert summary.last_loss < 0.3 * summary.first_loss
        out = tmp_path / "traces" / f"{condition}.jsonl"
        generate(
            tmp_path / "students" / condition,
            tmp_path / "items.csv",
            out,
            max_new_tokens=40,
            batch_size=24,
        )
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert all(r["parse_error"] == "" and r["correct"] for r in rows)
        lengths = [r["n_reasoning_tokens"] for r in rows]
        k = [int(r["item_id"][1]) for r in rows]
        results[condition] = (correlation(k, lengths), lengths)

    r_original, lengths_original = results["original"]
    r_matched, lengths_matched = results["length_matched"]
    assert r_original > 0.9, lengths_original
    assert abs(r_matched) < 0.3, lengths_matched
    assert max(lengths_matched) - min(lengths_matched) <= 2
    assert max(lengths_original) - min(lengths_original) >= 9
