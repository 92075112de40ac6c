"""Generation with vLLM (optional, GPU): imported only when `--backend vllm` is asked for."""

from __future__ import annotations

from data.errors import InputError
from distill.backends import Generation
from distill.backends.prompting import render_prompt, resolve_style
from probes.loading import load_tokenizer


class VLLMBackend:
    """Generate continuations with `vllm.LLM`; same interface as HFBackend."""

    def __init__(
        self,
        model_path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        prompt_style: str = "auto",
        open_think: bool = False,
        open_tag: str = "<think>",
    ) -> None:
        self.open_think, self.open_tag = open_think, open_tag
        try:
            import vllm
        except ImportError as error:
            raise InputError(
                "the vllm backend needs vLLM (pip install vllm, GPU only); or use --backend hf",
                field="backend",
            ) from error
        self._vllm = vllm
        self.tokenizer = load_tokenizer(model_path, trust_remote_code=trust_remote_code)
        self.style = resolve_style(self.tokenizer, prompt_style)
        self.llm = vllm.LLM(
            model=str(model_path),
            dtype="auto" if dtype in (None, "auto") else dtype,
            trust_remote_code=trust_remote_code,
        )

    def generate(
        self, prompts: list[str], *, temperature: float, max_new_tokens: int, seed: int
    ) -> list[Generation]:
        """Generate one continuation per prompt."""
        params = self._vllm.SamplingParams(
            temperature=float(temperature), max_tokens=max_new_tokens, seed=seed
        )
        texts = [
            render_prompt(
                self.tokenizer, p, self.style, open_think=self.open_think, open_tag=self.open_tag
            )
            for p in prompts
        ]
        outputs = self.llm.generate(texts, params, use_tqdm=False)
        generations = []
        for output in outputs:
            completion = output.outputs[0]
            generations.append(
                Generation(
                    text=completion.text,
                    n_tokens=len(completion.token_ids),
                    finished=completion.finish_reason == "stop",
                )
            )
        return generations

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's tokenizer, special tokens excluded."""
        if not text:
            return 0
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
