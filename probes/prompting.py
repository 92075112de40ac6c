"""One prompting convention per model: how an item prompt is shown to it and how its output splits.

Generation (distill), capture and steering (probes) all render prompts and parse generations
through one `PromptConvention`, so a run reads a model with the very text it generated from.

Styles: chat models (a tokenizer with a chat template) get the prompt as one user turn (after an
optional system turn) with the generation prompt appended; the template already holds bos, so no
special tokens are added again. Plain models (the organism, word-tokenizer models, base LMs) get
the item prompt itself, bos added by the tokenizer, and continue with
` <think> ...steps... </think> ANSWER` then eos.

Reasoning ends at the family's close tag, or, for models that write no think tags, at the first
match of `answer_pattern` (e.g. "The answer is:"). A chat model whose template and vocabulary know
no think tag gets, unless told otherwise, an instruction to reason step by step and end with a line
"The answer is: X", and that marker ends its reasoning (`resolved`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from mimicry.data.errors import InputError
from mimicry.data.reasoning import ParsedGeneration, split_generation

PromptStyle = Literal["auto", "chat", "plain"]
PROMPT_STYLES = ("auto", "chat", "plain")
# Plain-style completions start with this separator so `prompt + completion` splits on a word boundary.
PLAIN_SEPARATOR = " "
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# The default for a chat model without think tags: ask for reasoning and a marked answer.
# Measured on SmolLM2-135M-Instruct: a placeholder answer ("The answer is: X") is copied
# literally and the reasoning skipped; asking for the reasoning first and the marker last is not.
DEFAULT_INSTRUCTION = (
    'Reason step by step first. Then, on the last line, write "The answer is:" followed by '
    "your answer."
)
DEFAULT_ANSWER_PATTERN = r"the\s+(?:final\s+)?answer\s+is\s*:?"


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
            "prompt style 'chat' needs a tokenizer with a chat template (this one has no chat "
            "template; use the plain style: --template raw)",
            field="prompt_style",
        )
    return style


def knows_think_tag(tokenizer, tag: str) -> bool:
    """Whether the model family writes `tag`: its chat template mentions it or its vocabulary has
    it as one token (reasoning models); an instruct model without either never writes it."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = " ".join(str(t) for t in template.values())
    return bool(tag) and (tag in str(template or "") or tag in tokenizer.get_vocab())


@dataclass(frozen=True)
class PromptConvention:
    """How one model is prompted and how its generations split into reasoning and answer.

    Attributes:
        style: 'auto' (chat when the tokenizer has a chat template), 'chat' or 'plain'.
        system_prompt: a system turn before the item (chat style only); None: none.
        instruction: text added after the item prompt; None: the default of the resolved
            convention (the reasoning instruction for a chat model without think tags, else none).
        think_open, think_close: the family's reasoning markers.
        open_think: a plain prompt ends with `think_open` (base models asked to reason in tags).
        answer_pattern: a regular expression (case-insensitive) whose first match ends the
            reasoning, for models without a close tag; the answer is the line after it. None:
            the default of the resolved convention; "": the close tag only, never a default.
    """

    style: str = "auto"
    system_prompt: str | None = None
    instruction: str | None = None
    think_open: str = THINK_OPEN
    think_close: str = THINK_CLOSE
    open_think: bool = False
    answer_pattern: str | None = None

    def __post_init__(self) -> None:
        if self.style not in PROMPT_STYLES:
            raise InputError(
                f"unknown prompt style {self.style!r}; choose from {PROMPT_STYLES}",
                field="prompt_style",
            )
        if self.answer_pattern:
            split_generation("x", answer_pattern=self.answer_pattern)  # a bad regex fails here
        if self.system_prompt is not None and self.style == "plain":
            raise InputError("a system prompt needs the chat style", field="system_prompt")

    @property
    def is_resolved(self) -> bool:
        """Style, instruction and answer marker are all fixed (no default left to choose)."""
        return self.style != "auto" and None not in (self.instruction, self.answer_pattern)

    def resolved(self, tokenizer) -> PromptConvention:
        """The convention with its style and defaults fixed for this tokenizer (idempotent)."""
        if self.is_resolved:
            if self.style == "chat" and not has_chat_template(tokenizer):
                resolve_style(tokenizer, "chat")  # the one error line
            return self
        style = resolve_style(tokenizer, self.style)
        instruction, pattern = self.instruction, self.answer_pattern
        without_tags = style == "chat" and not knows_think_tag(tokenizer, self.think_open)
        if without_tags and pattern is None:
            pattern = DEFAULT_ANSWER_PATTERN
            instruction = DEFAULT_INSTRUCTION if instruction is None else instruction
        if self.system_prompt is not None and style != "chat":
            raise InputError("a system prompt needs the chat style", field="system_prompt")
        return replace(
            self, style=style, instruction=instruction or "", answer_pattern=pattern or ""
        )

    @property
    def uses_think_tags(self) -> bool:
        """True when reasoning is delimited by think tags, False when by the answer pattern."""
        return not self.answer_pattern

    def user_text(self, prompt: str) -> str:
        """The item prompt with the instruction (if any) after it."""
        return f"{prompt}\n\n{self.instruction}" if self.instruction else prompt

    def render(self, tokenizer, prompt: str) -> str:
        """The text fed to the model for one item prompt (the generation prompt for chat)."""
        convention = self.resolved(tokenizer)
        if convention.style == "chat":
            messages = [{"role": "user", "content": convention.user_text(prompt)}]
            if convention.system_prompt is not None:
                messages.insert(0, {"role": "system", "content": convention.system_prompt})
            return tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
        text = convention.user_text(prompt)
        return f"{text}{PLAIN_SEPARATOR}{convention.think_open}" if convention.open_think else text

    def adds_special_tokens(self, tokenizer) -> bool:
        """Plain prompts get bos from the tokenizer; chat templates already contain it."""
        return self.resolved(tokenizer).style == "plain"

    def parse(self, text: str, delimiter: str | None = None) -> ParsedGeneration:
        """Split a generation into reasoning and answer under this (resolved) convention;
        `delimiter`, a literal answer marker, overrides the pattern and the tags."""
        return split_generation(
            text,
            open_tag=self.think_open,
            close_tag=self.think_close,
            delimiter=delimiter,
            answer_pattern=None if delimiter is not None else self.answer_pattern or None,
        )

    def as_dict(self) -> dict:
        """Plain JSON fields (for hashes and manifests)."""
        return asdict(self)

    @classmethod
    def from_value(
        cls, value, think_tags: tuple[str, str] = (THINK_OPEN, THINK_CLOSE)
    ) -> PromptConvention:
        """A convention from a convention, its dict (a manifest), or a legacy capture template
        name ('raw': plain prompt with bos; 'chat': the chat template)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if value in ("raw", "chat"):
            style = "plain" if value == "raw" else "chat"
            return cls(style, None, "", think_tags[0], think_tags[1], answer_pattern="")
        raise InputError(
            f"unknown template {value!r}; choose raw or chat (or give a prompt convention)",
            field="template",
        )
