"""The report renders every section from a run directory's contract files (fabricated here: this
test is about rendering; the end-to-end pipeline test runs the real stages)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mimicry.data.exclusions import Exclusions
from mimicry.experiments.report import build_report
from mimicry.experiments.report.entropy import entropy_vs_difficulty
from tests.roster import write_roster

MODELS = ("teacher", "base", "student_original", "student_length_matched")


def fabricate_run(run: Path, seed: int = 0) -> Path:
    """A run directory with each stage's tables in the INTERFACES §6 format."""
    rng = np.random.default_rng(seed)
    n = 24
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n)],
            "task": ["relational_3ps"] * 12 + ["syllogisms"] * 12,
            "prompt": [f"prompt {i}" for i in range(n)],
            "answer": ["yes"] * n,
            "human_rt_ms": list(rng.uniform(2000, 9000, 12)) + [np.nan] * 12,
            "human_acc": rng.uniform(0.3, 1.0, n),
            "feat_n_premises": rng.integers(2, 5, n),
        }
    )
    run.mkdir(parents=True)
    items.to_csv(run / "items.csv", index=False)
    (run / "config.yaml").write_text(
        "name: fabricated\nseed: 0\nreport:\n  n_boot: 200\n  n_perm: 200\n"
    )
    write_roster(
        run,
        ["teacher", "base", "student_original", "student_length_matched", "base__random_init"],
    )
    behaviour = run / "behaviour"
    behaviour.mkdir()
    rows = []
    for model in MODELS:
        for task in ("relational_3ps", "syllogisms"):
            r = rng.uniform(-0.2, 0.8)
            rows.append(
                dict(
                    model=model,
                    task=task,
                    n=12,
                    mean_cost=rng.uniform(5, 30),
                    pearson_r=r,
                    r_ci_low=r - 0.3,
                    r_ci_high=min(r + 0.2, 1),
                    p_value=rng.uniform(0, 0.2),
                    spearman_rho=r,
                    spearman_ci_low=r - 0.3,
                    spearman_ci_high=r + 0.2,
                    spearman_p=0.1,
                    accuracy=rng.uniform(0.5, 1),
                    n_excluded=0,
                )
            )
    pd.DataFrame(rows).to_csv(behaviour / "alignment.csv", index=False)
    pd.DataFrame(
        [
            dict(
                model=m,
                n_tasks=2,
                r_bar=0.4,
                r_bar_ci_low=0.1,
                r_bar_ci_high=0.6,
                r_bar_p=0.01,
                pooled_r=0.35,
                pooled_ci_low=0.1,
                pooled_ci_high=0.55,
                pooled_p=0.02,
                correct_only_r=0.3,
                correct_only_ci_low=0.0,
                correct_only_ci_high=0.5,
                correct_only_p=0.05,
                n_items=24,
            )
            for m in MODELS
        ]
    ).to_csv(behaviour / "summary.csv", index=False)
    pd.DataFrame(
        [
            dict(
                student=s,
                base="base",
                task=t,
                delta_r=-0.2,
                delta_r_ci_low=-0.5,
                delta_r_ci_high=0.1,
                delta_r_p=0.2,
                delta_acc=0.05,
                delta_acc_ci_low=-0.1,
                delta_acc_ci_high=0.2,
                n=12,
            )
            for s in MODELS[2:]
            for t in ("relational_3ps", "syllogisms")
        ]
    ).to_csv(behaviour / "transfer.csv", index=False)
    pd.DataFrame(
        [
            dict(
                stage="behaviour",
                model="base",
                task="syllogisms",
                reason="unparseable answer",
                n=3,
                example="i14",
            )
        ]
    ).to_csv(behaviour / "exclusions.csv", index=False)
    probes = run / "probes"
    probes.mkdir()
    rows = []
    for model in (*MODELS, "base__random_init"):
        for position in ("last_prompt", "mean_trace"):
            for target in ("human_rt", "correct"):
                for layer in range(4):
                    score = rng.uniform(0, 0.5)
                    rows.append(
                        dict(
                            model=model,
                            position=position,
                            layer=layer,
                            rel_depth=layer / 3,
                            target=target,
                            probe="ridge",
                            feature_set="activations",
                            score=score,
                            ci_low=score - 0.1,
                            ci_high=score + 0.1,
                            control_score=0.02,
                            selectivity=score - 0.02,
                            p_value=0.01,
                            n_items=24,
                            metric="spearman" if target == "human_rt" else "auroc",
                        )
                    )
    for target in ("human_rt", "correct"):
        rows.append(
            dict(
                model="teacher",
                position="",
                layer=np.nan,
                rel_depth=np.nan,
                target=target,
                probe="ridge",
                feature_set="surface",
                score=0.1,
                ci_low=0.0,
                ci_high=0.2,
                control_score=0.0,
                selectivity=0.1,
                p_value=0.2,
                n_items=24,
                metric="spearman" if target == "human_rt" else "auroc",
            )
        )
    pd.DataFrame(rows).to_csv(probes / "probes.csv", index=False)
    pd.DataFrame(
        [
            dict(
                model_a=s,
                model_b=o,
                rel_depth=layer / 3,
                layer_a=layer,
                layer_b=layer,
                cka=rng.uniform(0.3, 1),
                direction_cosine=rng.uniform(-0.2, 0.9),
            )
            for s in MODELS[2:]
            for o in ("base", "teacher")
            for layer in range(4)
        ]
    ).to_csv(probes / "compare.csv", index=False)
    pd.DataFrame(
        [
            dict(
                model="student_original",
                layer=2,
                alpha=a,
                n=24,
                mean_length=10 + a,
                mean_length_ci_low=9 + a,
                mean_length_ci_high=11 + a,
                accuracy=0.8,
                p_value=0.03,
            )
            for a in (-4.0, 0.0, 4.0)
        ]
    ).to_csv(probes / "steer.csv", index=False)
    entropy = run / "entropy"
    entropy.mkdir()
    for model in (*MODELS, "base__random_init"):
        rows = [
            dict(
                item_id=f"i{i}",
                layer=layer,
                head=h,
                region=region,
                entropy=rng.uniform(0.5, 2),
                entropy_norm=rng.uniform(0.2, 0.9),
            )
            for i in range(n)
            for layer in range(3)
            for h in range(2)
            for region in ("prompt", "trace")
        ]
        pd.DataFrame(rows).to_csv(entropy / f"{model}.csv", index=False)
    return run


def test_entropy_vs_difficulty_recovers_planted_correlation():
    rng = np.random.default_rng(0)
    n = 30
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n)],
            "task": ["a"] * 15 + ["b"] * 15,
            "human_rt_ms": np.r_[rng.uniform(1000, 5000, 15), rng.uniform(8000, 20000, 15)],
        }
    )
    items.loc[3, "human_rt_ms"] = np.nan
    rt_z = items.groupby("task")["human_rt_ms"].transform(lambda s: (s - s.mean()) / s.std())
    rows = []
    for i in range(n):
        for layer, slope in ((0, 0.0), (1, 1.0)):
            value = 0.5 + 0.1 * slope * (0 if np.isnan(rt_z[i]) else rt_z[i]) + 0.01 * rng.normal()
            rows += [
                dict(
                    item_id=f"i{i}",
                    layer=layer,
                    head=h,
                    region="prompt",
                    entropy=value,
                    entropy_norm=value,
                )
                for h in range(2)
            ]
    path = Path(pytest.importorskip("tempfile").mkdtemp()) / "m.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    ledger = Exclusions()
    result = entropy_vs_difficulty(
        {"m": path}, items, n_boot=300, n_perm=300, seed=0, exclusions=ledger
    )
    main = result[result["measure"] == "entropy_norm"].set_index("layer")
    assert main.loc[1, "r"] > 0.95 and main.loc[1, "p_value"] < 0.01
    assert abs(main.loc[0, "r"]) < 0.6
    assert main.loc[1, "n"] == n - 1
    assert ledger.total(stage="report_entropy") == 1


# The sections a report must carry (also checked on a real smoke run in test_pipeline_e2e).
SECTION_TITLES = (
    "Validity gate",
    "Findings (generated from the tables)",
    "Manipulation checks",
    "Behavioural alignment",
    "Linear inflation law",
    "Cost when wrong vs when right",
    "Probes",
    "Attention entropy",
    "CKA",
    "Ablation comparison",
    "Causal test",
    "Exclusions",
    "Configuration and versions",
)


def test_report_renders_every_section(tmp_path):
    run = fabricate_run(tmp_path / "run")
    index = build_report(run, versions={"python": "3.11", "torch": "2.13.0"})
    page = index.read_text()
    markdown = (run / "report" / "report.md").read_text()
    for title in SECTION_TITLES:
        assert title in page and title in markdown
    # self-contained: every image inline, no external resources
    assert not re.search(r"(src|href)=['\"](?!data:|#)", page)
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) >= 7
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    # exclusions from the behaviour stage and from the report's own entropy analysis
    assert "unparseable answer" in page and "no human RT norm" in page
    report_exclusions = pd.read_csv(run / "report" / "exclusions.csv")
    assert report_exclusions["n"].sum() == 12  # the 12 syllogism items have no RT norm
    entropy = pd.read_csv(run / "report" / "entropy_difficulty.csv")
    assert set(entropy["model"]) == {*MODELS, "base__random_init"}
    assert (entropy["n"] == 12).all()
    assert "torch" in page and "fabricated" in page
    assert list((run / "report" / "figures").glob("*.png"))
    for target in ("human_rt", "correct"):  # one probe figure per target
        assert f"probe_{target}.png" in markdown


def test_report_of_partial_run_says_what_is_missing(tmp_path):
    run = tmp_path / "partial"
    run.mkdir()
    pd.DataFrame({"item_id": ["a"], "task": ["t"], "prompt": ["p"], "answer": ["x"]}).to_csv(
        run / "items.csv", index=False
    )
    page = build_report(run, versions={"python": "3.11"}).read_text()
    assert "behaviour stage did not run" in page
    assert "probe stage did not run" in page
