"""Typer options built from a stage's pydantic config, so each option is declared once.

`@config_options(BehaviourConfig)` on a command adds one `--field-name` option per field of the
model (its default, its description as help; `bool` as `--x/--no-x`; lists as comma-separated
text; `Literal` values listed as the choices) and calls the command with `config=` the validated
model. A value the model refuses is one `InputError` line naming the option (exit 2), before any
work starts. The library function, the CLI and the YAML run config thus share one default each.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from mimicry.data.errors import InputError

_SEQUENCES = (list, tuple, set, frozenset)


def option_name(field: str) -> str:
    """The command-line spelling of a config field: `n_boot` -> `--n-boot`."""
    return "--" + field.replace("_", "-")


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without None, whether None was allowed)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else Union[tuple(args)]), optional  # noqa: UP007
    return annotation, False


def is_list_field(field: FieldInfo) -> bool:
    """A list/tuple field (given on the command line as comma-separated text)."""
    inner, _ = _strip_optional(field.annotation)
    return get_origin(inner) in _SEQUENCES or inner in _SEQUENCES


def _choices(annotation: Any) -> tuple[str, ...] | None:
    inner, _ = _strip_optional(annotation)
    if get_origin(inner) in _SEQUENCES:
        (inner, *_) = get_args(inner) or (None,)
    if get_origin(inner) is Literal:
        return tuple(str(v) for v in get_args(inner))
    return None


def field_default(field: FieldInfo) -> Any:
    """The model's default of a field (calling its default factory)."""
    return field.get_default(call_default_factory=True)


def cli_default(field: FieldInfo) -> Any:
    """The option's default as the command line shows it: lists as comma-separated text."""
    default = field_default(field)
    if is_list_field(field) and default is not None:
        return ",".join(str(v) for v in default) or "none"
    return default


def _cli_type(field: FieldInfo) -> Any:
    if is_list_field(field):
        return str | None
    inner, optional = _strip_optional(field.annotation)
    if get_origin(inner) is Literal:
        inner = str
    if not isinstance(inner, type) or not issubclass(inner, bool | int | float | str | Path):
        raise TypeError(f"config field type {field.annotation!r} has no command-line form")
    return inner | None if optional or field_default(field) is None else inner


def _help(field: FieldInfo) -> str:
    text = field.description or ""
    if is_list_field(field):
        choices = _choices(field.annotation)
        text += f" Comma-separated{': ' + ', '.join(choices) if choices else ''}."
    return text.strip()


def _option(name: str, field: FieldInfo) -> inspect.Parameter:
    flag = option_name(name)
    cli_type = _cli_type(field)
    decls = [f"{flag}/--no-{flag[2:]}"] if cli_type is bool else [flag]
    choices = _choices(field.annotation)
    metavar = "|".join(choices) if choices and not is_list_field(field) else None
    info = typer.Option(*decls, help=_help(field), metavar=metavar)
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=cli_default(field),
        annotation=Annotated[cli_type, info],
    )


def split_list(text: str | None, field: FieldInfo, name: str) -> list[str] | None:
    """Comma-separated text -> entries; 'none' or '' is the empty list (None where allowed)."""
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        _, optional = _strip_optional(field.annotation)
        return None if optional else []
    parts = [p.strip() for p in text.split(",")]
    if any(not p for p in parts):
        raise InputError(
            f"{option_name(name)}: empty entry in comma-separated list {text!r}", field=name
        )
    return parts


def build_config(model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    """Validate command-line values (list fields as text) into `model`; one line on error."""
    fields = model.model_fields
    parsed = {
        name: split_list(value, fields[name], name) if is_list_field(fields[name]) else value
        for name, value in values.items()
    }
    try:
        return model.model_validate(parsed)
    except ValidationError as error:
        raise option_error(error, values) from None


def option_error(error: ValidationError, given: dict[str, Any] | None = None) -> InputError:
    """The first validation error as one `InputError` line naming the option."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    if not loc:
        return InputError(message)
    name = loc[0]
    shown = (given or {}).get(name, first.get("input"))
    return InputError(f"{option_name(name)}: {message} (got {shown!r})", field=name)


def config_options(
    model: type[BaseModel], *, exclude: Iterable[str] = (), param: str = "config"
) -> Callable[[Callable], Callable]:
    """Decorator: the command gains an option per field of `model` (but `exclude`) and receives
    the validated model as `param`; excluded fields keep the model's default."""
    excluded = set(exclude)
    fields = {n: f for n, f in model.model_fields.items() if n not in excluded}

    def decorate(func: Callable) -> Callable:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation), kind=p.KEYWORD_ONLY)
            for p in inspect.signature(func).parameters.values()
            if p.name != param
        ]
        clash = {p.name for p in own} & set(fields)
        if clash:
            raise TypeError(f"{func.__name__} declares config options itself: {sorted(clash)}")
        parameters = own + [_option(name, field) for name, field in fields.items()]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in fields}
            return func(**kwargs, **{param: build_config(model, values)})

        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        del command.__wrapped__  # typer reads the signature above, not the function's own
        command.config_model = model  # type: ignore[attr-defined]
        return command

    return decorate
