"""The options of one capture, checked once, for the in-memory `capture` and the run-folder stage.

Every option is validated before any weights load, so bad input fails in a second with one line
naming the option.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mimicry.data.errors import InputError
from mimicry.probes.capture.backends import BACKENDS
from mimicry.probes.capture.entropy import ENTROPY_METHODS, fused_available
from mimicry.probes.capture.inputs import THINK_CLOSE, THINK_OPEN
from mimicry.probes.capture.positions import TRACE_POSITIONS, parse_positions
from mimicry.probes.prompting import PromptConvention

FORMAT_VERSION = 1
REMOTE_MODES = ("no", "local", "ndif")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PROMPT_POSITIONS = ("last_prompt", "mean_prompt")
ALL_POSITIONS = ("last_prompt", "mean_prompt", "mean_trace", "think_open")


@dataclass
class CaptureSettings:
    """How to read a model: the options both capture entry points share (see `capture`)."""

    positions: tuple[str, ...] = PROMPT_POSITIONS
    backend: str = "nnsight"
    batch_size: int = 8
    dtype: str = "float32"
    device: str = "cpu"
    trust_remote_code: bool = False
    revision: str | None = None
    shard_size: int = 256
    entropy: bool = True
    entropy_method: str = "auto"
    template: str | dict = "raw"  # a legacy name, or a prompt convention's fields
    think_tags: tuple[str, str] = (THINK_OPEN, THINK_CLOSE)
    max_tokens: int | None = None
    remote: str = "no"
    trace_model: str | None = None
    resolved_method: str | None = field(default=None, init=False)

    @classmethod
    def build(cls, positions: str | Sequence[str] | None, has_traces: bool, **options):
        """Settings with the default positions for the inputs (all four with traces), checked."""
        chosen = positions or (ALL_POSITIONS if has_traces else PROMPT_POSITIONS)
        template = options.get("template", "raw")
        if not isinstance(template, str):  # a prompt convention: stored as its JSON fields
            convention = PromptConvention.from_value(template).as_dict()
            options = {
                **options,
                "template": convention,
                "think_tags": (convention["think_open"], convention["think_close"]),
            }
        settings = cls(positions=parse_positions(chosen), **options)
        settings.think_tags = tuple(settings.think_tags)
        settings.check(has_traces)
        return settings

    def check(self, has_traces: bool) -> None:
        """Reject unknown backends, methods and modes, bad sizes, and trace positions without
        traces; resolve the entropy method for the device."""
        if self.backend not in BACKENDS:
            raise InputError(
                f"unknown backend {self.backend!r}; choose from {', '.join(BACKENDS)}",
                field="backend",
            )
        if self.batch_size < 0:
            raise InputError(f"must be 0 (auto) or more, got {self.batch_size}", field="batch_size")
        if self.shard_size < 1:
            raise InputError(f"must be at least 1, got {self.shard_size}", field="shard_size")
        if self.entropy_method not in ENTROPY_METHODS:
            raise InputError(
                f"unknown entropy method {self.entropy_method!r}; choose from "
                f"{', '.join(ENTROPY_METHODS)}",
                field="entropy_method",
            )
        needs_trace = [p for p in self.positions if p in TRACE_POSITIONS]
        if (
            not has_traces
            and needs_trace
            and (self.template == "raw" or "mean_trace" in needs_trace)
        ):
            raise InputError(
                f"position(s) {', '.join(needs_trace)} need reasoning text; pass --traces",
                field="positions",
            )
        check_remote(self.remote, self.backend)
        self.entropy = self.entropy and self.remote == "no"
        self.resolved_method = (
            resolve_entropy_method(self.entropy_method, self.input_device, self.backend)
            if self.entropy
            else None
        )

    @property
    def input_device(self) -> str:
        return input_device(self.device)

    def hashed(self) -> dict:
        """The options that change the output (the stage's input hash and the manifest)."""
        return {
            "format": FORMAT_VERSION,
            "positions": self.positions,
            "backend": self.backend,
            "batch_size": self.batch_size,
            "dtype": self.dtype,
            "device": self.device,
            "revision": self.revision,
            "entropy_method": self.resolved_method,
            "template": self.template,
            "think_tags": list(self.think_tags),
            "shard_size": self.shard_size,
            "trace_model": self.trace_model,
            "remote": self.remote,
        }


def default_name(model: str | Path) -> str:
    """A file-safe run name from a model folder or hub name (`org/model` -> `org--model`)."""
    text = str(model).rstrip("/")
    name = Path(text).name if Path(text).exists() else text.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InputError(f"name {name!r} must be letters, digits, '.', '_' or '-'", field="name")
    return name


def check_remote(remote: str, backend: str) -> None:
    """Remote execution goes through nnsight only, and NDIF needs an API key."""
    if remote not in REMOTE_MODES:
        raise InputError(
            f"unknown remote mode {remote!r}; choose from {', '.join(REMOTE_MODES)}", field="remote"
        )
    if remote != "no" and backend != "nnsight":
        raise InputError("remote execution needs the nnsight backend", field="backend")
    if remote == "ndif":
        from nnsight import CONFIG

        if not (os.environ.get("NDIF_API_KEY") or getattr(CONFIG.API, "APIKEY", None)):
            raise InputError(
                "NDIF needs an API key: set NDIF_API_KEY (from login.ndif.us)", field="remote"
            )


def input_device(device: str) -> str:
    """Where batches go: `auto` spreads the layers over the GPUs (accelerate moves activations
    between them) and takes its inputs on the first one, or stays on the CPU without a GPU."""
    if device != "auto":
        return device
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def resolve_entropy_method(method: str, device: str, backend: str) -> str:
    """`auto` -> fused on CPU, else chunked; TransformerLens always reads eager patterns."""
    if backend == "transformer_lens":
        return "eager"
    if method == "auto":
        return "fused" if fused_available(device) else "chunked"
    if method == "fused" and not fused_available(device):
        raise InputError(
            f"the fused entropy method needs a CPU device, not {device!r}", field="entropy_method"
        )
    return method
