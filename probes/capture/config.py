"""The capture stages' options, each once with its help text. Imports only pydantic (the CLI
builds its options from these classes without loading torch).

`CaptureConfig` is what `capture`, `capture_run`, `mimicry capture` and the run config's `capture`
section take; `AlongCaptureConfig` how the along-trace capture of the effort stage batches and
shards (`effort_model`, `mimicry effort`, the pipeline's effort stage). How a model is loaded
(dtype, device, revision, remote) and prompted (its convention) belongs to the model, not here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mimicry.probes.config import PositionName, StageConfig

__all__ = ["ALL_POSITIONS", "PROMPT_POSITIONS", "AlongCaptureConfig", "CaptureConfig"]

PROMPT_POSITIONS = ("last_prompt", "mean_prompt")
ALL_POSITIONS = ("last_prompt", "mean_prompt", "mean_trace", "think_open")
EntropyMethod = Literal["auto", "chunked", "fused", "eager"]
CaptureBackend = Literal["nnsight", "transformer_lens"]


class CaptureConfig(StageConfig):
    """Per-layer residual stream at chosen positions and attention entropy of one model."""

    positions: list[PositionName] | None = Field(
        None,
        description="Token positions whose residual stream is saved; null: all four with traces, "
        "the two prompt ones (last_prompt, mean_prompt) without.",
    )
    backend: CaptureBackend = Field(
        "nnsight",
        description="nnsight (batched, left padding) or transformer_lens (one item at a time).",
    )
    batch_size: int = Field(
        16, ge=0, description="Items per forward pass; 0 chooses it from free GPU memory or RAM."
    )
    shard_size: int = Field(
        256, gt=0, description="Items per resumable shard (a killed capture resumes at a shard)."
    )
    entropy: bool = Field(True, description="Also capture attention entropy per layer and head.")
    entropy_method: EntropyMethod = Field(
        "auto",
        description="auto (fused on CPU, else chunked), chunked, fused, or eager (the reference).",
    )
    max_tokens: int | None = Field(
        None, gt=0, description="Longer items are excluded (null: the model's context length)."
    )

    def positions_for(self, has_traces: bool) -> tuple[str, ...]:
        """The positions read: the given ones, else the default for these inputs."""
        if self.positions:
            return tuple(self.positions)
        return ALL_POSITIONS if has_traces else PROMPT_POSITIONS


class AlongCaptureConfig(StageConfig):
    """How the along-trace capture (one row per trace position read) batches and shards."""

    batch_size: int = Field(8, gt=0, description="Items per forward pass (along the trace).")
    max_batch_tokens: int = Field(
        16384,
        gt=0,
        description="Cap on items x padded length per batch, so long traces go one at a time.",
    )
    shard_rows: int = Field(
        2048,
        gt=0,
        description="Rows per safetensors shard (memory while capturing grows with this only).",
    )
