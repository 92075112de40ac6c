"""Capture: residual-stream activations at chosen positions and attention entropy, any HF causal LM.

`capture(model, items) -> Capture` works in memory (a loaded model or a path; items as a
DataFrame); `Capture.save(run, name)` writes the run folder. `capture_run(model, items_path,
run, name)` is the resumable run-folder stage the pipeline and `mimicry capture` call: the same
loop, with each shard written to disk as it finishes. The options are `config.CaptureConfig`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimicry.probes.capture.api import Capture, capture
    from mimicry.probes.capture.run import CaptureResult, capture_run

__all__ = ["Capture", "CaptureResult", "capture", "capture_run"]
_HOMES = {"Capture": "api", "capture": "api", "CaptureResult": "run", "capture_run": "run"}


def __getattr__(name: str) -> Any:
    """Load the capture code (torch) on first use, so `capture.config` imports only pydantic."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
