"""How an item prompt is shown to a model, shared by generation and SFT so both see the same text.

Chat models (a tokenizer with a chat template) get the prompt as one user turn with the generation
prompt appended; the template already holds bos, so no special tokens are added again. Plain models
(the organism, tiny word-tokenizer models, base LMs) get the item prompt itself, bos added by the
tokenizer, and continue with ` <think> ...steps... </think> ANSWER` then eos.
"""

from __future__ import annotations

from typing import Literal

from mimicry.data.errors import InputError

PromptStyle = Literal["auto", "chat", "plain"]
PROMPT_STYLES = ("auto", "chat", "plain")
# Plain-style completions start with this separator so `prompt + completion` splits on a word boundary.
PLAIN_SEPARATOR = " "


def has_chat_template(tokenizer) -> bool:
    """True when the tokenizer carries a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def resolve_style(tokenizer, style: str = "auto") -> str:
    """Resolve 'auto' to 'chat' or 'plain'; 'chat' without a template is an input error."""
    if style not in PROMPT_STYLES:
        raise InputError(
            f"unknown prompt style {style!r}; choose from {PROMPT_STYLES}", field="prompt_style"
        )
    if style == "auto":
        return "chat" if has_chat_template(tokenizer) else "plain"
    if style == "chat" and not has_chat_template(tokenizer):
        raise InputError(
            "prompt style 'chat' needs a tokenizer with a chat template", field="prompt_style"
        )
    return style


def render_prompt(
    tokenizer, prompt: str, style: str, *, open_think: bool = False, open_tag: str = "<think>"
) -> str:
    """The text fed to the model for one item prompt under a resolved style.

    `open_think` appends the open tag to a plain prompt, for base models asked to reason inside
    think tags (registry conventions with `prompt_opens_think` and no chat template).
    """
    if style == "chat":
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
    return f"{prompt}{PLAIN_SEPARATOR}{open_tag}" if open_think else prompt


def adds_special_tokens(style: str) -> bool:
    """Plain prompts get bos from the tokenizer; chat templates already contain it."""
    return style == "plain"
