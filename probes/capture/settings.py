"""One capture's resolved settings, checked once, for the in-memory `capture` and the run-folder
stage: the stage's `CaptureConfig` plus how the model is loaded and prompted.

Every option is validated before any weights load, so bad input fails in a second with one line
naming the option.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mimicry.data.errors import InputError
from mimicry.probes.capture.config import CaptureConfig
from mimicry.probes.capture.entropy import fused_available
from mimicry.probes.capture.inputs import THINK_CLOSE, THINK_OPEN
from mimicry.probes.capture.positions import TRACE_POSITIONS, parse_positions
from mimicry.probes.config import resolve_config
from mimicry.probes.prompting import PromptConvention

FORMAT_VERSION = 1
REMOTE_MODES = ("no", "local", "ndif")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class CaptureSettings:
    """One capture, resolved: the stage's options (`config`, a `CaptureConfig`), the positions
    read, and how this model is loaded and prompted (per model, so not stage options)."""

    config: CaptureConfig
    positions: tuple[str, ...]
    dtype: str = "float32"
    device: str = "cpu"
    trust_remote_code: bool = False
    revision: str | None = None
    template: str | dict = "raw"  # a legacy name, or a prompt convention's fields
    think_tags: tuple[str, str] = (THINK_OPEN, THINK_CLOSE)
    remote: str = "no"
    trace_model: str | None = None
    entropy: bool = field(default=True, init=False)
    resolved_method: str | None = field(default=None, init=False)

    @classmethod
    def build(cls, config: CaptureConfig, has_traces: bool, **loading):
        """Settings for these inputs (the default positions: all four with traces), checked."""
        template = loading.get("template", "raw")
        if not isinstance(template, str):  # a prompt convention: stored as its JSON fields
            convention = PromptConvention.from_value(template).as_dict()
            loading = {
                **loading,
                "template": convention,
                "think_tags": (convention["think_open"], convention["think_close"]),
            }
        positions = parse_positions(list(config.positions_for(has_traces)))
        settings = cls(config=config, positions=positions, **loading)
        settings.think_tags = tuple(settings.think_tags)
        settings.check(has_traces)
        return settings

    @property
    def backend(self) -> str:
        return self.config.backend

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    @property
    def shard_size(self) -> int:
        return self.config.shard_size

    @property
    def max_tokens(self) -> int | None:
        return self.config.max_tokens

    def check(self, has_traces: bool) -> None:
        """Reject trace positions without traces and remote modes the backend cannot run (the
        options' own ranges are the config's); resolve the entropy method for the device."""
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
        self.entropy = self.config.entropy and self.remote == "no"
        self.resolved_method = (
            resolve_entropy_method(self.config.entropy_method, self.input_device, self.backend)
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


def capture_config(config: CaptureConfig | None, overrides: dict) -> CaptureConfig:
    """`config` with keyword overrides, validated (`positions` may be comma-separated text); a
    subclass (the run config's section) is read as the plain `CaptureConfig`."""
    if isinstance(overrides.get("positions"), str):
        overrides = {**overrides, "positions": list(parse_positions(overrides["positions"]))}
    if (
        config is not None
        and type(config) is not CaptureConfig
        and isinstance(config, CaptureConfig)
    ):
        config = CaptureConfig(**config.model_dump(include=set(CaptureConfig.model_fields)))
    return resolve_config(CaptureConfig, config, overrides)


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
