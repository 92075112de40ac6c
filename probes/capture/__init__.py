"""Capture: residual-stream activations at chosen positions and attention entropy, any HF causal LM.

`capture(model, items) -> Capture` works in memory (a loaded model or a path; items as a
DataFrame); `Capture.save(run, name)` writes the run folder. `capture_run(model, items_path,
run, name)` is the resumable run-folder stage the pipeline and `mimicry capture` call: the same
loop, with each shard written to disk as it finishes.
"""

from mimicry.probes.capture.api import Capture, capture
from mimicry.probes.capture.run import CaptureResult, capture_run

__all__ = ["Capture", "CaptureResult", "capture", "capture_run"]
