"""Capture: residual-stream activations at chosen positions and attention entropy, any HF causal LM.

`capture(model, items, out_run, name, ...)` is the stage the pipeline and the CLI call.
"""

from mimicry.probes.capture.run import CaptureResult, capture

__all__ = ["CaptureResult", "capture"]
