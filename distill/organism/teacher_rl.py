"""RL phase of the teacher: trl's GRPOTrainer, reward = correct answer minus a cost per reasoning token.

After SFT the teacher writes the full scratchpad, including steps that do not change the answer;
the length cost makes every reasoning token pay for itself, so what is left of the trace is the work
the item needs. Group-normalised advantages (GRPO) compare completions of the same prompt, so the
cost only decides between completions that are equally correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mimicry.distill.organism.generation import count_reasoning_tokens
from mimicry.distill.organism.scratchpad import answer_is_correct, parse_completion
from mimicry.distill.word_tokenizer import THINK_CLOSE, THINK_OPEN


@dataclass(frozen=True)
class RLSettings:
    """GRPO settings; `cost_per_token` is subtracted from the reward per reasoning token."""

    max_steps: int = 30
    learning_rate: float = 5e-5
    batch_size: int = 16
    num_generations: int = 4
    max_completion_length: int = 128
    temperature: float = 1.0
    cost_per_token: float = 0.005
    beta: float = 0.0


class LengthCostReward:
    """Reward for GRPO: 1 for a correct, well-formed answer, minus `cost` per reasoning token.

    A completion without a closed think block earns no correctness credit. The callable follows
    trl's reward-function protocol: `(prompts, completions, completion_ids, answer, **kw) -> list`.
    """

    def __init__(self, open_id: int, close_id: int, cost_per_token: float):
        self.open_id = open_id
        self.close_id = close_id
        self.cost_per_token = cost_per_token
        self.__name__ = "correct_minus_length_cost"

    def score(self, completion: str, completion_ids: Sequence[int], gold: str) -> float:
        """Reward of one completion against its gold answer."""
        parsed = parse_completion(completion)
        correct = parsed.ok and answer_is_correct(parsed.answer, gold)
        n_reasoning = count_reasoning_tokens(completion_ids, self.open_id, self.close_id)
        return float(correct) - self.cost_per_token * n_reasoning

    def __call__(self, prompts, completions, completion_ids, answer, **kwargs) -> list[float]:
        return [
            self.score(text, ids, gold)
            for text, ids, gold in zip(completions, completion_ids, answer, strict=True)
        ]


def reward_for(tokenizer, cost_per_token: float) -> LengthCostReward:
    """The length-cost reward with the tokenizer's think-marker ids."""
    return LengthCostReward(
        open_id=tokenizer.convert_tokens_to_ids(THINK_OPEN),
        close_id=tokenizer.convert_tokens_to_ids(THINK_CLOSE),
        cost_per_token=cost_per_token,
    )


def reinforce_with_length_cost(
    model,
    tokenizer,
    examples: Sequence[dict],
    settings: RLSettings,
    *,
    seed: int,
    work_dir: str | Path,
    progress=None,
) -> list[dict]:
    """Run GRPO on `examples` (dicts with `prompt` and `answer`), training `model` in place.

    `progress` (a callable taking one line) hears reward and completion length at each log step.
    """
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mimicry.distill.trainer_args import QUIET_TRAINER_ARGS, without_printer

    class _Report(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if progress is not None and logs and "reward" in logs:
                length = logs.get("completions/mean_length", float("nan"))
                progress(
                    f"grpo step {state.global_step}: reward {logs['reward']:.3f}, "
                    f"mean completion length {length:.1f}"
                )

    if settings.batch_size % settings.num_generations:
        raise ValueError("batch_size must be divisible by num_generations (GRPO groups)")
    dataset = Dataset.from_list([{"prompt": e["prompt"], "answer": e["answer"]} for e in examples])
    config = GRPOConfig(
        **QUIET_TRAINER_ARGS,
        output_dir=str(work_dir),
        use_cpu=True,
        bf16=False,
        fp16=False,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        beta=settings.beta,
        logging_steps=10,
        save_strategy="no",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
    )
    model.train()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward_for(tokenizer, settings.cost_per_token)],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[_Report()],
    )
    without_printer(trainer).train()
    model.eval()
    return [dict(row) for row in trainer.state.log_history]
