"""`mimicry ablate`: every set passes its own held-fixed check, verified independently here on
organism-style traces (generated items, `step ; step` scratchpads) and free-text traces with
hedges and fillers; bad input gives one line or a counted exclusion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicry.data.generators import generate_items
from mimicry.distill.ablate import SET_NAMES, build_sets
from mimicry.distill.ablate.steps import join_steps, split_steps
from mimicry.distill.lexicon import ablation_vocabulary, content_words, matchers
from mimicry.experiments.cli import run
from mimicry.probes.loading import load_tokenizer
from tests.tiny_models import make_tiny_model


def organism_traces() -> list[dict]:
    """Teacher traces in the organism's format for generated relational and cardinal items."""
    rows = []
    for family in ("relational", "cardinal"):
        items = generate_items(family, 8, seed=1)
        for item in items.itertuples(index=False):
            steps = json.loads(item.steps)
            rows.append(
                {
                    "item_id": item.item_id,
                    "task": item.task,
                    "prompt": item.prompt,
                    "reasoning": " ; ".join(steps),
                    "answer": item.answer,
                }
            )
    return rows


def free_text_traces() -> list[dict]:
    """Traces like a real reasoning model's: fillers, hedges, connectives, numbers."""
    rows = []
    for i, (x, y) in enumerate([(3, 4), (12, 7), (25, 13), (8, 9), (41, 2), (6, 6)]):
        reasoning = (
            f"Okay, let me see. We add {x} and {y}. Hmm, {x} plus {y} is {x + y}.\n"
            f"Wait, maybe I should check: {x + y} minus {y} is {x}, so the sum is {x + y}."
        )
        if i % 2:
            reasoning += f"\nStep 3: because {x} is positive, the sum exceeds {y}."
        rows.append(
            {
                "item_id": f"sum{i}",
                "task": "sums",
                "prompt": f"What is {x} plus {y} ?",
                "reasoning": reasoning,
                "answer": str(x + y),
            }
        )
    return rows


def write_traces_file(path: Path, rows: list[dict], **overrides) -> Path:
    lines = []
    for row in rows:
        record = {"model": "teacher", "sample": 0, "correct": True, "n_reasoning_tokens": 1}
        record.update(row)
        record.update(overrides.get(row["item_id"], {}))
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def read_set(out: Path, name: str) -> tuple[dict[str, dict], dict]:
    examples = {}
    for line in (out / name / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        examples[row["item_id"]] = row
    return examples, json.loads((out / name / "check.json").read_text())


def reasoning_of(completion: str) -> str:
    assert completion.startswith("<think> ")
    return completion[len("<think> ") : completion.index(" </think> ")]


@pytest.fixture(scope="module")
def traces_and_tokenizer(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    rows = organism_traces() + free_text_traces()
    path = write_traces_file(root / "teacher.jsonl", rows)
    texts = [f"{r['prompt']} {r['reasoning']} {r['answer']}" for r in rows]
    texts.append(" ".join(ablation_vocabulary()))
    model = make_tiny_model(root / "student", "llama", texts=texts)
    return path, rows, load_tokenizer(model), model


@pytest.fixture(scope="module")
def built(traces_and_tokenizer, tmp_path_factory):
    path, rows, _, model = traces_and_tokenizer
    out = tmp_path_factory.mktemp("sets") / "ablations"
    summary = build_sets(path, out, tokenizer=model, seed=0)
    return out, summary


def body_words(text: str) -> list[str]:
    """Content words of the step bodies (step markers are format, not content)."""
    return [w for step in split_steps(text) for w in content_words(step.body)]


def token_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_every_set_is_written_checked_and_documented(built):
    out, summary = built
    assert set(summary.n_examples) == set(SET_NAMES)
    assert all(summary.passed.values()), summary.passed
    for name in SET_NAMES:
        examples, check = read_set(out, name)
        assert check["passed"] and check["stats"]["n_items"] == len(examples)
        dropped = summary.exclusions.total(stage="ablate")
        assert len(examples) == 22 or (name == "format_fixed_content_varied" and dropped > 0)
        assert len(examples) + dropped >= 22 and len(examples) >= 18
        assert check["stats"]["unknown_tokens"] == 0
        readme = (out / name / "README.md").read_text()
        assert "Held fixed" in readme and "PASSED" in readme
    assert (out / "exclusions.csv").read_text().startswith("stage,model,task,reason,n,example")


def test_answers_are_kept_and_original_is_verbatim(built, traces_and_tokenizer):
    out, _ = built
    _, rows, _, _ = traces_and_tokenizer
    teacher = {r["item_id"]: r for r in rows}
    for name in SET_NAMES:
        examples, _ = read_set(out, name)
        for item_id, example in examples.items():
            assert example["prompt"] == teacher[item_id]["prompt"]
            assert example["completion"].endswith(f" </think> {teacher[item_id]['answer']}")
    original, _ = read_set(out, "original")
    assert all(
        reasoning_of(e["completion"]) == teacher[i]["reasoning"] for i, e in original.items()
    )


def test_format_fixed_has_same_token_length_and_markers_and_new_content(
    built, traces_and_tokenizer
):
    out, _ = built
    _, rows, tokenizer, _ = traces_and_tokenizer
    teacher = {r["item_id"]: r for r in rows}
    examples, check = read_set(out, "format_fixed_content_varied")
    assert check["conditions"]["token_length_equal_fraction"]["value"] == 1
    for item_id, example in examples.items():
        old, new = teacher[item_id]["reasoning"], reasoning_of(example["completion"])
        old_steps, new_steps = split_steps(old), split_steps(new)
        assert len(token_ids(tokenizer, new)) == len(token_ids(tokenizer, old))
        assert [s.marker for s in new_steps] == [s.marker for s in old_steps]
        assert [s.separator for s in new_steps] == [s.separator for s in old_steps]
        # every step keeps its token length, so every step (marker) starts at the same token
        for a, b in zip(old_steps, new_steps, strict=True):
            assert len(token_ids(tokenizer, b.text)) == len(token_ids(tokenizer, a.text))
        with_content = [
            (a, b) for a, b in zip(old_steps, new_steps, strict=True) if content_words(a.body)
        ]
        assert with_content and all(a.body != b.body for a, b in with_content)
    # content really moved: most tokens differ from the original at the same position
    assert check["stats"]["token_agreement_with_original"]["mean"] < 0.9


def test_content_fixed_keeps_content_words_and_changes_surface(built, traces_and_tokenizer):
    out, _ = built
    _, rows, _, _ = traces_and_tokenizer
    teacher = {r["item_id"]: r for r in rows}
    examples, _ = read_set(out, "content_fixed_format_varied")
    fillers = matchers()["fillers"]
    for item_id, example in examples.items():
        old, new = teacher[item_id]["reasoning"], reasoning_of(example["completion"])
        assert body_words(new) == body_words(old)
        assert new != old and fillers.count(new) == 0
    free = reasoning_of(examples["sum1"]["completion"])
    assert "therefore the sum" in free and "Perhaps" in free and "since 12 is positive" in free
    assert "3. since" in free and "Step 3" not in free  # marker restyled
    assert "Okay" not in free and "Wait" not in free and "Hmm" not in free
    organism = next(e for i, e in examples.items() if i.startswith("gen-relational"))
    assert "\n" in reasoning_of(organism["completion"])  # " ; " steps now on separate lines


def test_length_matched_has_one_token_length(built, traces_and_tokenizer):
    out, _ = built
    _, rows, tokenizer, _ = traces_and_tokenizer
    examples, check = read_set(out, "length_matched")
    lengths = {len(token_ids(tokenizer, reasoning_of(e["completion"]))) for e in examples.values()}
    assert lengths == {check["stats"]["target_tokens"]}
    teacher_lengths = [len(token_ids(tokenizer, r["reasoning"])) for r in rows]
    assert min(teacher_lengths) < check["stats"]["target_tokens"] < max(teacher_lengths)
    assert check["stats"]["n_truncated"] > 0 and check["stats"]["n_padded"] > 0


def test_same_seed_same_sets_and_rerun_is_skipped(built, traces_and_tokenizer, tmp_path):
    out, _ = built
    path, _, _, model = traces_and_tokenizer
    again = tmp_path / "again"
    build_sets(path, again, tokenizer=model, seed=0)
    for name in SET_NAMES:
        assert (again / name / "train.jsonl").read_text() == (
            out / name / "train.jsonl"
        ).read_text()
    assert build_sets(path, again, tokenizer=model, seed=0).skipped
    other = build_sets(path, tmp_path / "other", tokenizer=model, seed=1)
    assert other.passed["format_fixed_content_varied"]
    assert (tmp_path / "other/format_fixed_content_varied/train.jsonl").read_text() != (
        out / "format_fixed_content_varied/train.jsonl"
    ).read_text()


def test_bad_and_filtered_traces_are_counted(tmp_path, capsys):
    rows = free_text_traces()
    overrides = {
        "sum0": {"reasoning": ""},  # trace without reasoning
        "sum1": {"answer": "", "correct": False},  # answer that did not parse
        "sum2": {"correct": False},
    }
    path = write_traces_file(tmp_path / "t.jsonl", rows, **overrides)
    out = tmp_path / "sets"
    assert run(["ablate", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "empty_reasoning" in printed and "unparsed_answer" in printed and "incorrect" in printed
    ledger = (out / "exclusions.csv").read_text()
    for reason in ("empty_reasoning", "unparsed_answer", "incorrect"):
        assert f"ablate,teacher,sums,{reason},1," in ledger
    assert len((out / "original" / "train.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize(
    ("overrides_for_all", "message"),
    [
        ({"reasoning": ""}, "empty_reasoning=6"),
        ({"correct": False}, "incorrect=6"),
        ({"answer": "", "correct": False}, "unparsed_answer=6"),
    ],
)
def test_empty_after_filtering_is_one_line_error(tmp_path, capsys, overrides_for_all, message):
    rows = free_text_traces()
    path = write_traces_file(
        tmp_path / "t.jsonl", rows, **{r["item_id"]: overrides_for_all for r in rows}
    )
    out = tmp_path / "sets"
    assert run(["ablate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no usable traces" in err and message in err
    tasks = sorted({r["task"] for r in rows})
    assert f"{message} (tasks {', '.join(tasks)})" in err or f"{message} (task {tasks[0]})" in err
    assert "\n" not in err and not out.exists()


def test_single_item_task_cannot_vary_content(tmp_path, capsys):
    path = write_traces_file(tmp_path / "t.jsonl", free_text_traces()[:1])
    assert run(["ablate", str(path), "--out", str(tmp_path / "sets")]) == 2
    err = capsys.readouterr().err
    assert "format_fixed_content_varied" in err and "empty" in err
    assert (
        run(
            [
                "ablate",
                str(path),
                "--out",
                str(tmp_path / "ok"),
                "--sets",
                "original,length_matched",
            ]
        )
        == 0
    )


def test_prompts_come_from_the_item_table_when_traces_lack_them(tmp_path, capsys):
    rows = free_text_traces()
    items = tmp_path / "items.csv"
    items.write_text(
        "item_id,task,prompt,answer\n"
        + "".join(f"{r['item_id']},sums,{r['prompt']},{r['answer']}\n" for r in rows)
    )
    bare = [{k: v for k, v in r.items() if k not in ("prompt", "task")} for r in rows]
    path = write_traces_file(tmp_path / "t.jsonl", bare)
    assert run(["ablate", str(path), "--out", str(tmp_path / "a")]) == 2
    assert "field 'prompt'" in capsys.readouterr().err
    assert run(["ablate", str(path), "--out", str(tmp_path / "b"), "--items", str(items)]) == 0
    first = json.loads((tmp_path / "b/original/train.jsonl").read_text().splitlines()[0])
    assert first["prompt"] == rows[0]["prompt"]


def test_steps_split_losslessly():
    for text in ("a b ; c d ; e", "Wait, 3.5 is big. Hmm.\n\nStep 2: check! ok", "one", "x .  y ."):
        assert join_steps(split_steps(text)) == text
    assert [s.body for s in split_steps("A left of B ; model : A B")] == [
        "A left of B ;",
        "model : A B",
    ]
