"""What both generation backends share: the model's tokenizer and its resolved prompt convention,
so HF and vLLM render prompts, parse generations and count tokens the same way."""

from __future__ import annotations

from mimicry.probes.loading import load_tokenizer
from mimicry.probes.prompting import PromptConvention


class PromptedBackend:
    """Tokenizer and prompt rendering for a backend; subclasses add the model and `generate`."""

    def __init__(
        self,
        model_path,
        *,
        trust_remote_code: bool = False,
        convention: PromptConvention | None = None,
    ) -> None:
        self.tokenizer = load_tokenizer(model_path, trust_remote_code=trust_remote_code)
        self.convention = (convention or PromptConvention()).resolved(self.tokenizer)
        self.style = self.convention.style

    def render_prompts(self, prompts: list[str]) -> list[str]:
        """The texts fed to the model for item prompts, under the backend's convention."""
        return [self.convention.render(self.tokenizer, p) for p in prompts]

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's tokenizer, special tokens excluded."""
        if not text:
            return 0
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
