"""Load and validate `models.yaml`: every triple names known models, every model a known convention."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mimicry.data.errors import InputError

RUNS = ("cpu", "gpu-1", "gpu-n", "remote")


class Convention(BaseModel):
    """How a model family marks its reasoning span and builds its prompt."""

    model_config = ConfigDict(extra="forbid")
    description: str
    think_open: str = Field(description="Token or string that opens the reasoning span.")
    think_close: str = Field(description="Token or string that closes the reasoning span.")
    chat_template: bool = Field(description="Prompt through the tokenizer's chat template.")
    prompt_opens_think: bool = Field(
        description="The generation prompt already ends with think_open."
    )
    template_file: str | None = Field(
        default=None,
        description="A copy of the family's chat template (templates/), for local folders that lack one.",
    )
    chat_tokens: list[str] = Field(
        default_factory=list, description="Special tokens the chat template uses."
    )
    system_prompt: str | None = Field(
        None, description="A system turn before every item (chat families only)."
    )
    instruction: str | None = Field(
        None, description="Text added after every item prompt (e.g. how to mark the answer)."
    )
    answer_pattern: str | None = Field(
        None,
        description="Regular expression that ends the reasoning for a family without a close "
        "tag; null: the think tags.",
    )

    def template_text(self) -> str | None:
        """The shipped chat template of this convention, if it has one."""
        if self.template_file is None:
            return None
        path = default_registry_path().parent / "templates" / self.template_file
        return path.read_text(encoding="utf-8")


class ModelEntry(BaseModel):
    """One model: where to get it, its shape, its size and where it can run."""

    model_config = ConfigDict(extra="forbid")
    hub: str = Field(description="Hugging Face hub name.")
    role: Literal["teacher", "student", "base"]
    architecture: str
    params_b: float = Field(gt=0, description="Parameters, billions.")
    n_layers: int = Field(gt=0)
    d_model: int = Field(gt=0)
    bf16_gb: float = Field(gt=0, description="Weight bytes in bf16, GB.")
    convention: str
    runs: Literal["cpu", "gpu-1", "gpu-n", "remote"]
    note: str = ""


class Triple(BaseModel):
    """A teacher, the student distilled from it, and that student's pre-distillation base."""

    model_config = ConfigDict(extra="forbid")
    teacher: str
    student: str
    base: str


class Registry(BaseModel):
    """The whole registry, cross-checked."""

    model_config = ConfigDict(extra="forbid")
    conventions: dict[str, Convention]
    models: dict[str, ModelEntry]
    triples: dict[str, Triple]

    @model_validator(mode="after")
    def _references_resolve(self) -> Registry:
        for name, entry in self.models.items():
            if entry.convention not in self.conventions:
                raise ValueError(f"model {name}: unknown convention {entry.convention!r}")
        for name, triple in self.triples.items():
            for role in ("teacher", "student", "base"):
                ref = getattr(triple, role)
                if ref not in self.models:
                    raise ValueError(f"triple {name}: {role} {ref!r} is not in models")
        return self

    def convention_of(self, model: str) -> Convention:
        """The trace convention of a registered model."""
        return self.conventions[self.models[model].convention]


def default_registry_path() -> Path:
    """The registry shipped with the package."""
    return Path(str(resources.files("mimicry.experiments.registry") / "models.yaml"))


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and validate a registry file (the shipped one by default)."""
    source = Path(path) if path is not None else default_registry_path()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InputError(f"cannot read registry: {error}", file=source) from error
    try:
        return Registry.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=source, field=field or None) from error
