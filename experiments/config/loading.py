"""Reading a YAML run config: every problem is one line naming the file, the line and the field.

`load_config(path)` turns any schema violation into one `InputError` line naming the file, the
YAML line and the dotted field, so a typo never surfaces as a traceback halfway through a run.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from mimicry.data.errors import InputError
from mimicry.experiments.config.run import FieldProblem, RunConfig


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config; raise one-line `InputError`s on any problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", file=path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", file=path, row=line) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as error:
        raise InputError(
            f"duplicate key {error.key!r} (first on line {error.first})",
            file=path,
            row=error.line,
            field=error.key,
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        row = None if mark is None else mark.line + 1
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", file=path, row=row) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError("the config must be a YAML mapping of sections", file=path)
    try:
        return RunConfig.model_validate(raw, context={"base": path.parent})
    except ValidationError as error:
        first = error.errors()[0]
        loc = [str(part) for part in first["loc"]]
        message = _explain(first)
        problem = (first.get("ctx") or {}).get("error")
        if isinstance(problem, FieldProblem):
            loc, message = problem.field.split("."), problem.message
        raise InputError(
            message, file=path, row=yaml_line(text, loc), field=".".join(loc) or None
        ) from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"duplicate key {key!r} on line {line}")
        self.key, self.line, self.first = key, line, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    raise _DuplicateKey(str(key), key_node.start_mark.line + 1, seen[key])
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _explain(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown option (see `mimicry config-help`)"
    return error["msg"]


def yaml_line(text: str, loc: list[str]) -> int | None:
    """1-based line of the deepest key of `loc` present in the YAML text."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line = key.start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line
