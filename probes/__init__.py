"""Measurement: model loading, activation and attention-entropy capture, linear probes, model comparison.

In memory: `mimicry.probes.capture.capture(model_or_path, items) -> Capture` and
`mimicry.probes.probing.probe_layers(capture, items) -> ProbeTable` (also `mimicry.capture` and
`mimicry.probe_layers`). The run-folder stages wrap them: `capture.capture_run` and
`probing.run_probes`.
"""
