"""The shipped real-model configs: every one validates and resolves through the registry, and
each runs in reduced form on CPU with tiny random-init models of the same architecture, chat
template and think tags (`tests.tiny_models.make_tiny_like`) and a small teacher trace file.

Two configs run the whole reduced study (a Qwen2 triple with the DeepSeek-R1 chat template and a
Llama triple); the rest are checked for validation and model resolution. One more run captures
with `remote: local`, nnsight's serverless dry run of NDIF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from mimicry.experiments.config import RunConfig, load_config, with_reduced_statistics
from mimicry.experiments.pipeline import run_pipeline
from mimicry.experiments.pipeline.models import model_specs, prompt_options, run_roster
from mimicry.experiments.registry import load_registry
from tests.tiny_models import make_tiny_like

pytestmark = pytest.mark.slow  # full pipeline runs / the shipped organism's held-out evaluation

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "experiments" / "configs"
REAL = (
    "r1-distill-qwen-1.5b",
    "r1-distill-qwen-7b",
    "r1-distill-llama-8b",
    "r1-distill-qwen-14b",
    "r1-distill-qwen-32b",
    "sky-t1-32b",
)
TASKS = ["relational_3ps", "cardinal_directions"]


def _load(name: str) -> RunConfig:
    return load_config(CONFIGS / f"{name}.yaml")


@pytest.mark.parametrize("name", REAL)
def test_real_config_validates_and_resolves(name):
    config = _load(name)
    registry = load_registry()
    specs = model_specs(config)
    assert set(specs) == {"teacher", "base", *(f"student_{k}" for k in config.models.students)}
    assert config.models.students, "a real config studies the published student"
    for model, spec in specs.items():
        entry = registry.models[spec.registry]
        assert spec.source == entry.hub, model
        convention = registry.convention_of(spec.registry)
        options = prompt_options(spec)
        assert options.capture["think_tags"] == (convention.think_open, convention.think_close)
        assert options.generate["prompt_style"] == ("chat" if convention.chat_template else "plain")
        if spec.activations and model != "teacher":
            assert (spec.device, spec.dtype) == ("auto", "bfloat16"), model
    assert "think_open" in config.capture.positions and config.capture.batch_size == 0
    assert not {"ablate", "distill", "generate_students"} & set(config.stages)
    if config.models.teacher.registry == "deepseek-r1":
        assert config.models.teacher.traces is not None and not config.models.teacher.activations
        assert run_roster(config).baseline_of("teacher") is None  # no activations, no baseline
    roster = run_roster(config)
    assert [r.name for r in roster.students()] == [f"student_{k}" for k in config.models.students]
    assert all(
        r.role == "student" and r.condition in config.models.students for r in roster.students()
    )


@pytest.fixture(scope="module")
def tiny_like(tmp_path_factory):
    """`tiny_like(registry_name)` -> a tiny model folder of that family, one per name."""
    cache: dict[str, Path] = {}

    def make(registry_name: str) -> Path:
        if registry_name not in cache:
            folder = tmp_path_factory.mktemp(registry_name.replace(".", "_"))
            cache[registry_name] = make_tiny_like(folder, registry_name)
        return cache[registry_name]

    return make


def _teacher_traces(items_csv: Path, out: Path) -> Path:
    """Teacher traces whose length grows with the human RT, in the trace format (as from an API)."""
    items = pd.read_csv(items_csv, dtype={"item_id": str})
    rt = items["human_rt_ms"].fillna(items["human_rt_ms"].median())
    ranks = rt.rank(method="first").astype(int)
    words = "so A is left of B then B is left of C".split()
    with out.open("w") as handle:
        for item_id, answer, rank in zip(items["item_id"], items["answer"], ranks, strict=True):
            reasoning = " ".join(words[i % len(words)] for i in range(3 + 2 * rank))
            line = {
                "item_id": item_id,
                "model": "deepseek-r1",
                "sample": 0,
                "reasoning": reasoning,
                "answer": str(answer),
                "correct": True,
                "n_reasoning_tokens": len(reasoning.split()),
            }
            handle.write(json.dumps(line) + "\n")
        handle.write(json.dumps({**line, "item_id": "not-in-this-run"}) + "\n")
    return out


def _items(config: RunConfig, tasks: list[str], n_items: int) -> RunConfig:
    tasks_config = config.tasks.model_copy(update={"builtin": tasks, "max_items_per_task": n_items})
    return config.model_copy(update={"tasks": tasks_config})


def _reduced(config: RunConfig, tiny_like, traces: Path, **spec_updates) -> RunConfig:
    """The config on CPU: tiny models of each family, few resamples, a short generation."""
    models = config.models
    local = {"device": "cpu", "dtype": "float32", **spec_updates}

    def tiny(spec):
        return spec.model_copy(update={"source": str(tiny_like(spec.registry)), **local})

    teacher = models.teacher.model_copy(update={"traces": traces})
    if teacher.activations:
        teacher = tiny(teacher).model_copy(update={"traces": traces})
    students = {key: tiny(spec) for key, spec in models.students.items()}
    reduced = config.model_copy(
        update={
            "threads": 1,
            "models": models.model_copy(
                update={"teacher": teacher, "base": tiny(models.base), "students": students}
            ),
            "generate": config.generate.model_copy(
                update={"max_new_tokens": 6, "batch_size": 12, "temperature": 0.0}
            ),
            "capture": config.capture.model_copy(update={"shard_size": 12}),
        }
    )
    return with_reduced_statistics(reduced, steer_items=6)


def _run_reduced(
    config: RunConfig, tiny_like, run_dir: Path, *, tasks=TASKS, n_items=6, **spec_updates
) -> RunConfig:
    """Draw the items, write the teacher's trace file for them, run the reduced config."""
    config = _items(config, list(tasks), n_items)
    run_pipeline(config, run_dir, only=["data"])
    traces = _teacher_traces(run_dir / "items.csv", run_dir.parent / "teacher-traces.jsonl")
    reduced = _reduced(config, tiny_like, traces, **spec_updates)
    run_pipeline(reduced, run_dir)
    return reduced


@pytest.mark.parametrize("name", [n for n in REAL if n.startswith("r1-")])
def test_real_config_runs_reduced_on_cpu(name, tiny_like, tmp_path):
    run_dir = tmp_path / "run"
    config = _run_reduced(_load(name), tiny_like, run_dir)
    student = f"student_{next(iter(config.models.students))}"
    items = pd.read_csv(run_dir / "items.csv", dtype={"item_id": str})
    assert set(items["task"]) == set(TASKS)

    teacher = [
        json.loads(x) for x in (run_dir / "traces" / "teacher.jsonl").read_text().splitlines()
    ]
    assert {t["model"] for t in teacher} == {"teacher"}
    assert {t["item_id"] for t in teacher} == set(items["item_id"])
    for model in ("base", student):
        prompts = [
            json.loads(x) for x in (run_dir / "traces" / f"{model}.jsonl").read_text().splitlines()
        ]
        assert len(prompts) == len(items)

    summary = pd.read_csv(run_dir / "behaviour" / "summary.csv")
    assert {"teacher", "base", student} <= set(summary["model"])

    assert not (run_dir / "activations" / "teacher").exists()  # R1 is known by its traces only
    chat = json.loads((run_dir / "activations" / student / "manifest.json").read_text())
    raw = json.loads((run_dir / "activations" / "base" / "manifest.json").read_text())
    assert chat["template"] == "chat" and raw["template"] == "raw"
    assert chat["think_tags"] == ["<think>", "</think>"]
    assert chat["n_items"] == len(items) and "think_open" in chat["positions"]
    acts = load_file(run_dir / "activations" / student / "think_open.safetensors")["resid"]
    last = load_file(run_dir / "activations" / student / "last_prompt.safetensors")["resid"]
    # the R1 chat template ends its generation prompt with <think>: the think-open position is
    # the prompt's last token, found in every item
    assert np.isfinite(acts).all() and np.allclose(acts, last)
    base_open = load_file(run_dir / "activations" / "base" / "think_open.safetensors")["resid"]
    base_last = load_file(run_dir / "activations" / "base" / "last_prompt.safetensors")["resid"]
    assert np.isfinite(base_open).all() and not np.allclose(base_open, base_last)
    assert (run_dir / "activations" / f"{student}__random_init" / "manifest.json").is_file()

    probes = pd.read_csv(run_dir / "probes" / "probes.csv")
    assert {"base", student} <= set(probes["model"])
    compare = pd.read_csv(run_dir / "probes" / "compare.csv")
    assert not compare.empty
    steer = pd.read_csv(run_dir / "probes" / "steer.csv")
    assert set(steer["model"]) == {student} and sorted(steer["alpha"]) == [-0.2, 0.0, 0.2]
    assert (steer["n_items"] == 6).all()
    assert (run_dir / "report" / "index.html").is_file()


def test_remote_local_capture_in_a_config(tiny_like, tmp_path):
    """`remote: local` sends every capture through nnsight's remote serialisation (NDIF's dry run):
    residuals only, no entropy file, same positions."""
    run_dir = tmp_path / "run"
    config = _load("sky-t1-32b")
    config = config.model_copy(
        update={
            "stages": ["data", "generate", "capture"],
            "capture": config.capture.model_copy(update={"random_init_baseline": False}),
            "models": config.models.model_copy(update={"students": {}}),
        }
    )
    _run_reduced(config, tiny_like, run_dir, tasks=TASKS[:1], n_items=4, remote="local")
    for model in ("teacher", "base"):
        manifest = json.loads((run_dir / "activations" / model / "manifest.json").read_text())
        assert manifest["remote"] == "local" and manifest["template"] in ("chat", "raw")
        assert not (run_dir / "entropy" / f"{model}.csv").exists()
        resid = load_file(run_dir / "activations" / model / "think_open.safetensors")["resid"]
        assert resid.shape[0] == manifest["n_items"] > 0 and np.isfinite(resid).all()
    teacher = json.loads((run_dir / "activations" / "teacher" / "manifest.json").read_text())
    assert teacher["template"] == "chat" and teacher["think_tags"] == ["<think>", "</think>"]


def test_sky_t1_config_runs_reduced_with_a_loadable_teacher(tiny_like, tmp_path):
    """QwQ-32B fits one GPU, so this triple captures the teacher too; Sky-T1 has its own tags."""
    run_dir = tmp_path / "run"
    config = _run_reduced(_load("sky-t1-32b"), tiny_like, run_dir)
    student = f"student_{next(iter(config.models.students))}"
    summary = pd.read_csv(run_dir / "behaviour" / "summary.csv")
    assert {"teacher", "base", student} <= set(summary["model"])
    teacher = json.loads((run_dir / "activations" / "teacher" / "manifest.json").read_text())
    assert teacher["template"] == "chat" and teacher["think_tags"] == ["<think>", "</think>"]
    sky = json.loads((run_dir / "activations" / student / "manifest.json").read_text())
    assert sky["think_tags"] == ["<|begin_of_thought|>", "<|end_of_thought|>"]
    probes = pd.read_csv(run_dir / "probes" / "probes.csv")
    assert {"teacher", "base", student} <= set(probes["model"])
    assert (run_dir / "report" / "index.html").is_file()
