"""What a run studies: its models (where each comes from, how it is prompted and run) and items."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from mimicry.experiments.config.names import Strict


class ModelSpec(Strict):
    """Where a model comes from and how it runs; a bare string in YAML is shorthand for `source`."""

    source: str = Field(
        description="'organism:teacher' or 'organism:base' (the shipped organism), a local "
        "Hugging Face folder, or a hub name; default: the hub name of `registry`.",
    )
    registry: str | None = Field(
        None,
        description="A model of the registry (`mimicry models`): its family's chat template, "
        "think tags and prompt style are used, and its hub name is the default source.",
    )
    traces: Path | None = Field(
        None,
        description="Pre-generated traces (JSONL, trace format) copied by the generate stage "
        "instead of running the model (e.g. DeepSeek-R1 answers from an API).",
    )
    activations: bool = Field(
        True,
        description="Capture (and probe) this model's activations; false for a model known only "
        "by its traces (e.g. the 671B DeepSeek-R1 teacher).",
    )
    trust_remote_code: bool = Field(
        False, description="Run the model repository's own code (only for sources you trust)."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights dtype for generation and capture."
    )
    device: str = Field(
        "cpu", description="'cpu', 'cuda', 'cuda:N', or 'auto' (spread over every visible GPU)."
    )
    remote: Literal["no", "local", "ndif"] = Field(
        "no",
        description="Capture through nnsight remote execution: 'ndif' runs on NDIF (needs "
        "NDIF_API_KEY; residuals only, no attention entropy), 'local' is its dry run here.",
    )
    prompt_style: Literal["auto", "chat", "plain"] | None = Field(
        None,
        description="How prompts are shown (generate, capture and steer alike): 'chat' (one user "
        "turn through the chat template), 'plain' (the item text), 'auto' (chat when the "
        "tokenizer has a template); null: the registry family's, else auto.",
    )
    system_prompt: str | None = Field(
        None, description="A system turn before every item (chat style only); null: none."
    )
    instruction: str | None = Field(
        None,
        description="Text added after every item prompt; null: the default, which for a chat "
        "model without think tags asks it to reason step by step and end with 'The answer is: "
        "X' (none otherwise); '': no instruction.",
    )
    answer_pattern: str | None = Field(
        None,
        description="Regular expression (case-insensitive) that ends the reasoning where the "
        "model writes no close tag; the answer is the line after its first match. null: the "
        "default ('the answer is' for a chat model without think tags, else the think tags); "
        "'': the think tags only.",
    )
    think_tags: tuple[str, str] | None = Field(
        None,
        description="The strings that open and close reasoning; null: the registry family's, "
        "else <think> </think>.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string_or_registry(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"source": value}
        if isinstance(value, dict) and value.get("registry") is not None:
            from mimicry.experiments.registry import load_registry

            models = load_registry().models
            name = value["registry"]
            if name not in models:
                raise ValueError(f"unknown registry model {name!r} (see `mimicry models`)")
            if value.get("source") is None:
                value = {**value, "source": models[name].hub}
        return value


class GeneratedSet(Strict):
    """Items drawn by a task generator (no human norms)."""

    family: str = Field(description="Generator family (see `mimicry data list`).")
    n: int = Field(gt=0, description="Number of items to draw.")
    seed: int | None = Field(None, description="Generator seed; defaults to the run seed.")
    role: Literal["train", "eval"] = Field(
        "train",
        description="'train': distillation prompts (RUN/train_items.csv); 'eval': added to the "
        "evaluated items (RUN/items.csv).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword options for the generator."
    )


class TasksConfig(Strict):
    """Which items the study evaluates (human-normed) and which prompts it distils on."""

    builtin: list[str] = Field(
        default_factory=lambda: ["relational_3ps", "relational_4ps", "cardinal_directions"],
        description="Built-in human-normed tasks evaluated (see `mimicry data list`).",
    )
    items_file: Path | None = Field(
        None, description="A user item table (CSV/JSONL) added to the evaluated items."
    )
    max_items_per_task: int | None = Field(
        None, gt=0, description="Keep at most this many evaluated items per task (seeded draw)."
    )
    generated: list[GeneratedSet] = Field(
        default_factory=list, description="Generated item sets (distillation prompts by default)."
    )


class ModelsConfig(Strict):
    """The teacher, the student architecture before distillation, and published students."""

    teacher: ModelSpec = Field(
        default_factory=lambda: ModelSpec(source="organism:teacher"),
        description="The reasoning teacher whose traces are distilled.",
    )
    base: ModelSpec = Field(
        default_factory=lambda: ModelSpec(source="organism:base"),
        description="The student before distillation (also the random-init architecture).",
    )
    students: dict[str, ModelSpec] = Field(
        default_factory=dict,
        description="Already-distilled students (e.g. a published R1-Distill model), studied as "
        "student_<key> next to the students the run distils itself.",
    )

    def named(self) -> list[tuple[str, ModelSpec]]:
        """(dotted name under `models`, spec) of every model: teacher, base, students.<key>."""
        return [
            ("teacher", self.teacher),
            ("base", self.base),
            *((f"students.{key}", spec) for key, spec in self.students.items()),
        ]

    @model_validator(mode="after")
    def _student_keys_are_names(self) -> ModelsConfig:
        for key in self.students:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", key):
                raise ValueError(f"student key {key!r} must be letters, digits, '.', '_' or '-'")
        return self
