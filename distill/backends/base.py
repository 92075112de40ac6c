"""What both generation backends share: the model's tokenizer, the resolved prompt style and the
optional opened think block, so HF and vLLM render prompts and count tokens the same way."""

from __future__ import annotations

from mimicry.distill.backends.prompting import render_prompt, resolve_style
from mimicry.probes.loading import load_tokenizer


class PromptedBackend:
    """Tokenizer and prompt rendering for a backend; subclasses add the model and `generate`."""

    def __init__(
        self,
        model_path,
        *,
        trust_remote_code: bool = False,
        prompt_style: str = "auto",
        open_think: bool = False,
        open_tag: str = "<think>",
    ) -> None:
        self.open_think, self.open_tag = open_think, open_tag
        self.tokenizer = load_tokenizer(model_path, trust_remote_code=trust_remote_code)
        self.style = resolve_style(self.tokenizer, prompt_style)

    def render_prompts(self, prompts: list[str]) -> list[str]:
        """The texts fed to the model for item prompts, in the backend's resolved style."""
        return [
            render_prompt(
                self.tokenizer, p, self.style, open_think=self.open_think, open_tag=self.open_tag
            )
            for p in prompts
        ]

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's tokenizer, special tokens excluded."""
        if not text:
            return 0
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
