"""The models of a run as typed records: name, role, condition, random-init flag, and identity.

Every stage, the probes and the report ask a `Roster` who a model is instead of parsing its name.
Names stay file-safe and fixed (`teacher`, `base`, `student_<condition>`, `<model>__random_init`)
because they name files of the run folder; the pipeline writes the records to `RUN/roles.json`.
A run folder assembled by hand (single commands, no roles.json) is read by the documented naming
convention, in `Roster.from_names` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from mimicry.data.errors import InputError

Role = Literal["teacher", "base", "student"]
ROLES: tuple[str, ...] = ("teacher", "base", "student")
RANDOM_INIT_SUFFIX = "__random_init"
STUDENT_PREFIX = "student_"
ROSTER_FILE = "roles.json"


@dataclass(frozen=True)
class ModelRecord:
    """One model of a run.

    `condition` names a student's distillation condition (`original`, `rl`, ...) or its key among
    published students. A random-init baseline has `random_init=True` and `of` = the model whose
    architecture it copies. `same_as` names an earlier record that is the very same model (same
    folder, same options): that model is generated and captured once, and this one shares its files.
    """

    name: str
    role: Role
    condition: str | None = None
    random_init: bool = False
    of: str | None = None
    same_as: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; choose from {ROLES}")
        if self.random_init != (self.of is not None):
            raise ValueError("a random-init record names the model it copies (`of`), and only it")

    @property
    def label(self) -> str:
        """How the report names the model's role."""
        if self.random_init:
            return f"random-init {self.of}"
        if self.role == "student":
            return f"student ({self.condition})"
        return "base (before distillation)" if self.role == "base" else "teacher"


def student_name(condition: str) -> str:
    """The file-safe name of the student of one condition."""
    return STUDENT_PREFIX + condition


def random_init_name(model: str) -> str:
    """The file-safe name of a model's random-init baseline."""
    return model + RANDOM_INIT_SUFFIX


def random_init_record(record: ModelRecord) -> ModelRecord:
    """The random-init baseline of `record`: same role and condition, weights drawn fresh."""
    return ModelRecord(
        random_init_name(record.name),
        record.role,
        record.condition,
        random_init=True,
        of=record.name,
    )


class Roster:
    """The ordered records of one run, looked up by name."""

    def __init__(self, records: Iterable[ModelRecord]):
        self._records: dict[str, ModelRecord] = {}
        for record in records:
            if record.name in self._records:
                raise ValueError(f"two models named {record.name!r}")
            self._records[record.name] = record

    def __iter__(self) -> Iterator[ModelRecord]:
        return iter(self._records.values())

    def __contains__(self, name: object) -> bool:
        return name in self._records

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, name: str) -> ModelRecord:
        return self._records[name]

    def get(self, name: str) -> ModelRecord | None:
        return self._records.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._records)

    def trained(self) -> list[ModelRecord]:
        """Every model that is not a random-init baseline."""
        return [r for r in self if not r.random_init]

    def with_role(self, role: str) -> list[ModelRecord]:
        """Trained models of one role, in order."""
        return [r for r in self.trained() if r.role == role]

    def students(self) -> list[ModelRecord]:
        return self.with_role("student")

    def is_random_init(self, name: str) -> bool:
        record = self.get(name)
        return record is not None and record.random_init

    def baseline_of(self, name: str) -> ModelRecord | None:
        """The random-init baseline of model `name`, when the run has one."""
        return next((r for r in self if r.random_init and r.of == name), None)

    def conditions(self) -> dict[str, str]:
        """Student condition -> student name."""
        return {r.condition: r.name for r in self.students() if r.condition is not None}

    def role_names(self) -> dict[str, list[str]]:
        """Role -> names of its trained models (for the cross-model comparison)."""
        return {role: [r.name for r in self.with_role(role)] for role in ROLES}

    def label(self, name: str) -> str:
        record = self.get(name)
        return record.label if record is not None else "model"

    def same_model_notes(self) -> list[str]:
        """One sentence per deduplicated model, for the report."""
        return [
            f"`{r.name}` is the same model as `{r.same_as}` (same folder and options): it was "
            "generated, captured and random-initialised once, and shares those files."
            for r in self
            if r.same_as is not None
        ]

    def restricted(self, names: Iterable[str]) -> Roster:
        """The records of `names` only (e.g. the models that have activations)."""
        keep = set(names)
        return Roster(r for r in self if r.name in keep)

    # --- files ---------------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {"models": [asdict(r) for r in self]}

    @classmethod
    def from_json(cls, raw: dict) -> Roster:
        return cls(ModelRecord(**record) for record in raw["models"])

    @classmethod
    def from_names(cls, names: Iterable[str], known: Iterable[ModelRecord] = ()) -> Roster:
        """Records for models of a hand-made run folder, by the documented naming convention.

        `teacher`, `base`, `student_<condition>` and `<model>__random_init`; any other name is
        a student whose condition is its name (a model compared with the others). `known`
        records come first and are the parents of random-init names where they match.
        """
        records = {r.name: r for r in known}
        names = [n for n in dict.fromkeys(names) if n not in records]
        for name in names:
            if not name.endswith(RANDOM_INIT_SUFFIX):
                records[name] = _record_from_name(name)
        for name in names:
            if name.endswith(RANDOM_INIT_SUFFIX):
                of = name[: -len(RANDOM_INIT_SUFFIX)]
                parent = records.get(of) or _record_from_name(of)
                records[name] = ModelRecord(
                    name, parent.role, parent.condition, random_init=True, of=of
                )
        return cls(records.values())


def _record_from_name(name: str) -> ModelRecord:
    if name in ("teacher", "base"):
        return ModelRecord(name, name)
    return ModelRecord(name, "student", name.removeprefix(STUDENT_PREFIX))


def read_roster(run: str | Path, names: Iterable[str] = ()) -> Roster:
    """The run's records from RUN/roles.json, else from `names` by the naming convention.

    Models in `names` that roles.json does not list (captured by hand into a pipeline run) are
    added by the convention, so every model on disk has a record.
    """
    path = Path(run) / ROSTER_FILE
    if not path.is_file():
        return Roster.from_names(names)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = Roster.from_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError, KeyError) as error:
        raise InputError(f"not a roles file: {error}", file=path, field="models") from error
    return Roster.from_names(names, known=known)
