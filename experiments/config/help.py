"""`mimicry config-help`: every option with its type, default and description."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from mimicry.experiments.config.run import RunConfig


def config_help(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    """One line per option, `section.field (type, default): description`, for `mimicry config-help`."""
    lines = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines.append(f"{dotted}: {field.description or ''}".rstrip())
            lines.extend(config_help(annotation, prefix=f"{dotted}."))
            continue
        if field.is_required():
            default_text = "required"
        else:
            default = field.default_factory() if field.default_factory else field.default
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            default_text = f"default {default!r}"
        type_name = _type_name(annotation)
        lines.append(f"  {dotted} ({type_name}, {default_text}): {field.description or ''}")
    return lines


def _type_name(annotation: Any) -> str:
    """Readable type: `Literal['a', 'b']` -> `a|b`, classes by their bare name."""
    text = str(annotation).replace("typing.", "").replace("pathlib.", "")
    text = re.sub(r"<class '(?:[\w.]*\.)?(\w+)'>", r"\1", text)
    text = re.sub(r"experiments\.config\.", "", text)
    text = re.sub(
        r"Literal\[([^\]]*)\]", lambda m: m.group(1).replace("'", "").replace(", ", "|"), text
    )
    return text
