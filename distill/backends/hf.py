"""Batched generation with Hugging Face transformers: left padding, greedy at temperature 0,
seeded sampling otherwise, on CPU or GPU."""

from __future__ import annotations

import torch

from mimicry.distill.backends import Generation
from mimicry.distill.backends.base import PromptedBackend
from mimicry.distill.backends.prompting import adds_special_tokens
from mimicry.probes.loading import load_causal_lm

# End-of-turn markers of common chat templates: generation stops at them as at eos.
END_OF_TURN = (
    "<|im_end|>",
    "<|eot_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
)


def stop_token_ids(tokenizer, model) -> list[int]:
    """eos of the tokenizer and of the model's generation config, plus any end-of-turn marker the
    vocabulary has (a chat student ends its turn with the template's marker, not always eos)."""
    ids = [tokenizer.eos_token_id]
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    vocab = tokenizer.get_vocab()
    ids += [vocab[marker] for marker in END_OF_TURN if marker in vocab]
    return list(dict.fromkeys(i for i in ids if i is not None))


def pick_device(device: str | None) -> str:
    """'auto'/None -> cuda when available, else cpu."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: str | None, device: str) -> str:
    """'auto'/None -> bfloat16 on a GPU that supports it, float32 otherwise."""
    if dtype in (None, "auto"):
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return "bfloat16"
        return "float32"
    return dtype


class HFBackend(PromptedBackend):
    """Generate continuations of item prompts with `model.generate`."""

    def __init__(
        self,
        model_path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        **prompting,
    ) -> None:
        """`prompting`: prompt_style, open_think, open_tag (see PromptedBackend)."""
        self.device = pick_device(device)
        super().__init__(model_path, trust_remote_code=trust_remote_code, **prompting)
        self.model = load_causal_lm(
            model_path,
            dtype=pick_dtype(dtype, self.device),
            device=self.device,
            trust_remote_code=trust_remote_code,
        )
        self.stop_ids = stop_token_ids(self.tokenizer, self.model)

    def generate(
        self, prompts: list[str], *, temperature: float, max_new_tokens: int, seed: int
    ) -> list[Generation]:
        """Generate one continuation per prompt (same batch, left padded)."""
        tokenizer = self.tokenizer
        batch = tokenizer(
            self.render_prompts(prompts),
            return_tensors="pt",
            padding=True,
            add_special_tokens=adds_special_tokens(self.style),
        ).to(self.device)
        sampling = temperature > 0
        kwargs = {"do_sample": sampling}
        if sampling:
            kwargs["temperature"] = float(temperature)
        torch.manual_seed(seed)
        with torch.no_grad():
            output = self.model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=self.stop_ids,
                **kwargs,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :].cpu()
        return [self._to_generation(row) for row in new_tokens]

    def _to_generation(self, row: torch.Tensor) -> Generation:
        ids = row.tolist()
        stops = [i for i, token in enumerate(ids) if token in self.stop_ids]
        finished = bool(stops)
        if finished:
            ids = ids[: stops[0] + 1]
        else:
            pad = self.tokenizer.pad_token_id
            while ids and ids[-1] == pad and pad not in self.stop_ids:
                ids.pop()
        text = self.tokenizer.decode(
            [i for i in ids if i not in self.stop_ids], skip_special_tokens=True
        )
        return Generation(text=text, n_tokens=len(ids), finished=finished)
