"""Model records, roles and sources of a run: who is the teacher, the base, each student.

`run_roster` turns the config into typed records (`mimicry.data.models`); `RUN/roles.json` holds
them for the probes' compare stage, the effort stage and the report. Two roles that load the very
same model (same folder or hub name, same options) are one model: the later one is `same_as` the
earlier and shares its traces and activations.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.fileio import write_json
from mimicry.data.models import (
    RANDOM_INIT_SUFFIX,
    ModelRecord,
    Roster,
    random_init_name,
    student_name,
)
from mimicry.experiments.config import ModelSpec, RunConfig
from mimicry.probes.prompting import PromptConvention

__all__ = ["RANDOM_INIT_SUFFIX", "random_init_name", "student_name"]

ORGANISM_PREFIX = "organism:"
ORGANISM_ENV = "MIMICRY_ORGANISM_DIR"


def distilled_conditions(config: RunConfig) -> list[str]:
    """Ablation sets this run distils students on (none when the distill stage is not run)."""
    return list(config.distill.conditions) if "distill" in config.stages else []


def model_specs(config: RunConfig) -> dict[str, ModelSpec]:
    """Every model of the run by name, with the spec whose loading options apply to it.

    Students the run distils inherit the base's spec (same architecture and tokenizer).
    """
    specs = {"teacher": config.models.teacher, "base": config.models.base}
    for condition in distilled_conditions(config):
        specs[student_name(condition)] = config.models.base
    for key, spec in config.models.students.items():
        specs[student_name(key)] = spec
    return specs


@dataclass(frozen=True)
class PromptOptions:
    """How one model is prompted and read: its one convention (generate, capture and steer use
    it), and the style-level options SFT and RL take from it."""

    generate: dict = field(default_factory=dict)
    capture: dict = field(default_factory=dict)
    convention: PromptConvention = field(default_factory=PromptConvention)


def prompt_convention(spec: ModelSpec) -> PromptConvention:
    """The model's prompt convention: its registry family's, then the spec's own options on top.

    Chat families are prompted through their chat template; base families get the plain prompt,
    opened into the think span when the family says so. A model without a registry name keeps the
    library default ('auto': its chat template if it has one, the default reasoning instruction
    and answer marker for a chat model without think tags).
    """
    fields: dict = {}
    if spec.registry is not None:
        from mimicry.experiments.registry import load_registry

        family = load_registry().convention_of(spec.registry)
        fields = {
            "style": "chat" if family.chat_template else "plain",
            "think_open": family.think_open,
            "think_close": family.think_close,
            "open_think": family.prompt_opens_think and not family.chat_template,
            "system_prompt": family.system_prompt,
            "instruction": family.instruction,
            # a registry family declares its tags: never the default answer marker
            "answer_pattern": family.answer_pattern or "",
        }
    own = {
        "style": spec.prompt_style,
        "system_prompt": spec.system_prompt,
        "instruction": spec.instruction,
        "answer_pattern": spec.answer_pattern,
    }
    fields |= {key: value for key, value in own.items() if value is not None}
    if spec.think_tags is not None:
        fields |= {"think_open": spec.think_tags[0], "think_close": spec.think_tags[1]}
    try:
        return PromptConvention(**fields)
    except InputError as error:
        raise InputError(error.message, field=f"models.{error.field}") from None


def prompt_options(spec: ModelSpec) -> PromptOptions:
    """The one mapping from a model spec (and its registry family) to prompting options."""
    convention = prompt_convention(spec)
    if spec.registry is None and convention == PromptConvention():
        return PromptOptions()
    generate = {
        "prompt_style": convention.style,
        "open_think": convention.open_think,
        "open_tag": convention.think_open,
        "close_tag": convention.think_close,
    }
    capture = {
        "template": "raw" if convention.style == "plain" else convention.style,
        "think_tags": (convention.think_open, convention.think_close),
    }
    return PromptOptions(generate, capture, convention)


def run_convention(config: RunConfig, name: str) -> PromptConvention:
    """The prompt convention of one model of the run (the same for generate, capture and steer).

    Students the run distils learnt `<think> reasoning </think> ANSWER` completions after the bare
    item prompt (SFT and RL prompt without instruction or system turn), so they are prompted and
    read that way in the base's style and tags, whatever instruction the base is given.
    """
    roster = run_roster(config)
    record = roster.get(name)
    if record is not None and record.random_init:  # read as the model it copies
        record = roster[record.of]
    name = name if record is None else record.name
    convention = prompt_convention(model_specs(config)[name])
    distilled = distilled_conditions(config)
    if record is not None and record.role == "student" and record.condition in distilled:
        return PromptConvention(
            style=convention.style,
            instruction="",
            think_open=convention.think_open,
            think_close=convention.think_close,
            open_think=convention.open_think,
            answer_pattern="",
        )
    return convention


def resolve_source(spec: ModelSpec, organism_dir: Path | None = None) -> str | Path:
    """`organism:teacher` -> the organism folder; else a local path or a hub name.

    The organism folder is, in order: `organism_dir` (the demo's --retrain-organism output), the
    `MIMICRY_ORGANISM_DIR` environment variable, the weights shipped in `distill/organism/weights`.
    """
    if spec.source.startswith(ORGANISM_PREFIX):
        from mimicry.distill.organism import WEIGHTS_DIR

        which = spec.source[len(ORGANISM_PREFIX) :]
        env = os.environ.get(ORGANISM_ENV)
        folder = organism_dir or (Path(env) if env else WEIGHTS_DIR)
        if not (folder / which / "config.json").is_file():
            raise InputError(
                f"no organism model {which!r} in {folder} (train it: mimicry demo --retrain-organism)",
                field="models",
            )
        return folder / which
    path = Path(spec.source).expanduser()
    return path.resolve() if path.exists() else spec.source


def run_roster(config: RunConfig, organism_dir: Path | None = None) -> Roster:
    """Every model of the run as a record, random-init baselines included.

    A published student or the base that loads exactly what an earlier model loads (same resolved
    source, same spec) is recorded `same_as` it. Random-init baselines: the teacher's and the
    base's (when captured); each student shares the base's (same architecture, same texts).
    """
    specs = model_specs(config)
    records: list[ModelRecord] = []
    seen: dict[str, str] = {}

    def add(name: str, role: str, condition: str | None, spec: ModelSpec) -> None:
        source = str(resolve_source(spec, organism_dir))
        identity = json.dumps([source, spec.model_dump(mode="json")], sort_keys=True)
        same_as = seen.setdefault(identity, name)
        records.append(
            ModelRecord(
                name, role, condition, same_as=None if same_as == name else same_as, source=source
            )
        )

    add("teacher", "teacher", None, config.models.teacher)
    add("base", "base", None, config.models.base)
    for condition in distilled_conditions(config):  # trained by this run: a folder of its own
        name = student_name(condition)
        records.append(ModelRecord(name, "student", condition, source=f"students/{condition}"))
    for key, spec in config.models.students.items():
        add(student_name(key), "student", key, spec)
    if config.capture.random_init_baseline:
        captured = {r.name: r for r in records if specs[r.name].activations}
        for record in list(records):
            if record.name not in captured:
                continue
            if record.role == "student" and "base" not in captured:
                continue
            parent = record.same_as if record.role != "student" else "base"
            same_as = random_init_name(parent) if parent and parent != record.name else None
            records.append(
                ModelRecord(
                    random_init_name(record.name),
                    record.role,
                    record.condition,
                    random_init=True,
                    of=record.name,
                    same_as=same_as,
                )
            )
    return Roster(records)


def write_roles(run_dir: Path, config: RunConfig, organism_dir: Path | None = None) -> Path:
    """Write `RUN/roles.json` (the run's model records)."""
    path = run_dir / "roles.json"
    write_json(path, run_roster(config, organism_dir).to_json())
    return path


def make_random_init(source: str | Path, out: Path, *, seed: int, trust_remote_code: bool) -> Path:
    """Save a random-init copy of a model's architecture (same config and tokenizer) to `out`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from mimicry.probes.loading import load_tokenizer

    config = AutoConfig.from_pretrained(str(source), trust_remote_code=trust_remote_code)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code).eval()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    load_tokenizer(source, trust_remote_code=trust_remote_code).save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def link_activations(source_dir: Path, target_dir: Path, name: str) -> None:
    """Share one random-init capture under another model's baseline name (hard links, no copy).

    Students have the base's architecture and are read on the same texts, so their random-init
    baseline is the base's; the manifest is rewritten with the new name.
    """
    tmp = target_dir.with_name(f".{target_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in source_dir.iterdir():
        if path.is_file() and path.suffix == ".safetensors":
            os.link(path, tmp / path.name)
    manifest = json.loads((source_dir / "manifest.json").read_text())
    manifest.update(model=name, shared_from=source_dir.name)
    write_json(tmp / "manifest.json", manifest)
    shutil.rmtree(target_dir, ignore_errors=True)
    os.replace(tmp, target_dir)


def link_file(source: Path, target: Path) -> None:
    """Share one finished output file under another name (a hard link, renamed into place)."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, tmp)
    os.replace(tmp, target)
