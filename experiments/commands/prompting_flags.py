"""The prompt-convention flags `generate`, `capture` and `steer` share, with the help text of the
matching `models.<name>` config options, so one model is prompted the same way by every command."""

from __future__ import annotations

from typing import Annotated

import typer

from mimicry.experiments.config import ModelSpec


def _help(name: str) -> str:
    return ModelSpec.model_fields[name].description or ""


PromptStyle = Annotated[str, typer.Option("--prompt-style", help=_help("prompt_style"))]
SystemPrompt = Annotated[str | None, typer.Option("--system-prompt", help=_help("system_prompt"))]
Instruction = Annotated[str | None, typer.Option("--instruction", help=_help("instruction"))]
AnswerPattern = Annotated[
    str | None, typer.Option("--answer-pattern", help=_help("answer_pattern"))
]


def convention_from_flags(
    *,
    prompt_style: str = "auto",
    system_prompt: str | None = None,
    instruction: str | None = None,
    answer_pattern: str | None = None,
    think_tags: tuple[str, str] = ("<think>", "</think>"),
    open_think: bool = False,
):
    """The PromptConvention the flags describe (unresolved: 'auto' and the defaults are fixed
    against the model's tokenizer, as in a run)."""
    from mimicry.probes.prompting import PromptConvention

    return PromptConvention(
        style=prompt_style,
        system_prompt=system_prompt,
        instruction=instruction,
        think_open=think_tags[0],
        think_close=think_tags[1],
        open_think=open_think,
        answer_pattern=answer_pattern,
    )
