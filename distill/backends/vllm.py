"""Generation with vLLM (optional, GPU): imported only when `--backend vllm` is asked for."""

from __future__ import annotations

from mimicry.data.errors import InputError
from mimicry.distill.backends import Generation
from mimicry.distill.backends.base import PromptedBackend
from mimicry.probes.generation import stop_token_ids


class VLLMBackend(PromptedBackend):
    """Generate continuations with `vllm.LLM`; same interface as HFBackend."""

    def __init__(
        self,
        model_path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        convention=None,
    ) -> None:
        """`convention`: the model's PromptConvention (render and parse only); generation stops
        at the same eos and end-of-turn ids as the HF loop."""
        try:
            import vllm
        except ImportError as error:
            raise InputError(
                "the vllm backend needs vLLM (pip install vllm, GPU only); or use --backend hf",
                field="backend",
            ) from error
        self._vllm = vllm
        super().__init__(model_path, trust_remote_code=trust_remote_code, convention=convention)
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
            temperature=float(temperature),
            max_tokens=max_new_tokens,
            seed=seed,
            stop_token_ids=stop_token_ids(self.tokenizer, None),
        )
        outputs = self.llm.generate(self.render_prompts(prompts), params, use_tqdm=False)
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
