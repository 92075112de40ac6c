"""How an item prompt is shown to a model, shared by generation and SFT so both see the same text.

The convention itself lives in `mimicry.probes.prompting` (capture and steering read models with
it too); this module keeps the style-level helpers SFT and RL use.
"""

from __future__ import annotations

from mimicry.probes.prompting import (
    PLAIN_SEPARATOR,
    PROMPT_STYLES,
    PromptConvention,
    PromptStyle,
    has_chat_template,
    resolve_style,
)

__all__ = [
    "PLAIN_SEPARATOR",
    "PROMPT_STYLES",
    "PromptConvention",
    "PromptStyle",
    "adds_special_tokens",
    "has_chat_template",
    "render_prompt",
    "resolve_style",
]


def render_prompt(
    tokenizer, prompt: str, style: str, *, open_think: bool = False, open_tag: str = "<think>"
) -> str:
    """The text fed to the model for one item prompt under a resolved style, no instruction.

    `open_think` appends the open tag to a plain prompt, for base models asked to reason inside
    think tags (registry conventions with `prompt_opens_think` and no chat template).
    """
    return PromptConvention(style, None, "", open_tag, open_think=open_think).render(
        tokenizer, prompt
    )


def adds_special_tokens(style: str) -> bool:
    """Plain prompts get bos from the tokenizer; chat templates already contain it."""
    return style == "plain"
