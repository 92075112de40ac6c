"""Generated items: deterministic by seed, never a human prompt, same features and vocabulary as
the built-in items, derivations that grow with the premises and end in the solver's answer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from mimicry.data.errors import InputError
from mimicry.data.families import FAMILIES, get_family, syllogistic
from mimicry.data.families import words_of as family_words
from mimicry.data.generators import families, generate_items
from mimicry.data.items import read_items
from mimicry.data.tasks import TASKS, human_prompts, load_task
from mimicry.experiments.cli import run


@pytest.mark.parametrize("family", list(FAMILIES))
def test_deterministic_unique_and_never_human(family):
    first = generate_items(family, 120, seed=3)
    assert first.equals(generate_items(family, 120, seed=3))
    assert not first.equals(generate_items(family, 120, seed=4))
    assert first["item_id"].is_unique and first["prompt"].is_unique
    assert first["item_id"].iloc[0] == f"gen-{family}-3-0"
    assert not set(first["prompt"]) & human_prompts()
    assert first["human_rt_ms"].isna().all() and first["human_acc"].isna().all()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_features_and_vocabulary_as_builtin(family):
    builtin = pd.concat([load_task(t) for t, s in TASKS.items() if s.family == family])
    generated = generate_items(family, 80, seed=0, n_premises=(2, 6))
    builtin_feats = {c for c in builtin.columns if c.startswith("feat_")}
    assert builtin_feats == {c for c in generated.columns if c.startswith("feat_")}
    assert {"feat_n_premises", "feat_steps", "feat_prompt_words", "feat_digits"} <= builtin_feats
    assert not generated[sorted(builtin_feats)].isna().any().any()
    vocabulary = get_family(family).vocabulary()
    generated_words = set()
    for row in generated.itertuples():
        steps = json.loads(row.steps)
        assert row.feat_steps == len(steps)
        generated_words |= {
            w for text in (row.prompt, row.answer, *steps) for w in family_words(text)
        }
    assert generated_words <= vocabulary
    # Every word a human item uses can be produced by the generator's pools and templates.
    builtin_words = {w for p in builtin["prompt"] for w in family_words(p)}
    assert builtin_words <= vocabulary


def test_human_prompts_are_never_emitted_even_when_the_space_is_small():
    """Two premises over the human items' own letters give 576 prompts (6 orders x 4 wordings x
    2 premise orders x 12 questions), 16 of them human: the generator skips those and says so
    when asked for more than the remaining 560."""
    items = generate_items("relational", 150, seed=0, n_premises=2, entities=("A", "B", "C"))
    assert not set(items["prompt"]) & set(load_task("relational_3ps")["prompt"])
    with pytest.raises(InputError, match="could only generate"):
        generate_items("relational", 561, seed=0, n_premises=2, entities=("A", "B", "C"))
    everything = generate_items("relational", 560, seed=0, n_premises=2, entities=("A", "B", "C"))
    assert not set(everything["prompt"]) & human_prompts()


@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("relational", {}),
        ("cardinal", {}),
        ("propositional", {}),
        ("syllogistic", {"valid_probability": 1.0}),
    ],
)
def test_steps_grow_with_premises(family, options):
    mean_steps = []
    for n in (2, 3, 4):
        items = generate_items(family, 30, seed=1, n_premises=n, **options)
        assert (items["feat_n_premises"] >= n).all()
        mean_steps.append(items["feat_steps"].mean())
    assert mean_steps[0] < mean_steps[1] < mean_steps[2]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_answers_match_an_independent_check(family):
    spec = get_family(family)
    rng = random.Random(7)
    for _ in range(150):
        struct = spec.sample(rng, n_premises=(1, 5) if family != "syllogistic" else (2, 4))
        answer = spec.solve(struct)
        steps = spec.solution_steps(struct)
        if family == "propositional":
            value = "false" if answer.startswith("not ") else "true"
            assert steps[-1] == "nothing" if answer == "nothing" else steps[-1].endswith(value)
        else:
            assert steps[-1].endswith(answer)


def test_syllogism_chains_nothing_stays_nothing():
    """The derivation stops once nothing follows about T0 and an intermediate term; check on
    random chains that nothing can follow later in that case."""
    rng = random.Random(11)
    for _ in range(400):
        item = syllogistic.sample(rng, n_premises=(3, 4), valid_probability=None)
        for i in range(1, len(item.premises)):
            earlier = syllogistic.valid_conclusions(item.premises[:i], item.terms[0], item.terms[i])
            if not earlier:
                assert syllogistic.solve(item) == syllogistic.NOTHING
                break


def test_bad_generator_requests_are_input_errors():
    with pytest.raises(InputError, match="unknown task family"):
        generate_items("nonsense", 3, seed=0)
    with pytest.raises(InputError, match="bad options"):
        generate_items("relational", 3, seed=0, colour="red")
    with pytest.raises(InputError, match="needs"):
        generate_items("cardinal", 3, seed=0, n_premises=20)
    assert families() == list(FAMILIES)


def test_export_builtin_and_generated(tmp_path: Path, capsys):
    out = tmp_path / "items.csv"
    assert (
        run(
            [
                "data",
                "export",
                "propositional",
                "gen:relational:30:2-4",
                "--out",
                str(out),
                "--seed",
                "5",
            ]
        )
        == 0
    )
    items = read_items(out)
    assert items.groupby("task").size().to_dict() == {"gen_relational": 30, "propositional": 16}
    assert items.loc[items["task"] == "propositional", "feat_n_right"].eq(0).all()
    assert items["item_id"].str.startswith("gen-relational-5-").sum() == 30
    assert "wrote 46 items" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    assert run(["data", "export", "gen:relational:x", "--out", str(bad)]) == 2
    assert run(["data", "export", "no_such_task", "--out", str(bad)]) == 2
    assert "unknown task 'no_such_task'" in capsys.readouterr().err
    assert not bad.exists()
    assert run(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "cardinal_directions" in listing and "gen:FAMILY:N" in listing
