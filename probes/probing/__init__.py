"""Linear probes of difficulty and effort per layer, with grouped CV, controls and statistics.

`probe_layers(capture_or_activations, items) -> ProbeTable` works in memory; `run_probes(RUN)` is
the probe stage over a run folder (the same `fit_layers` for every model x position).
"""

from mimicry.probes.probing.layers import ProbeTable, fit_layers, probe_layers
from mimicry.probes.probing.probe import ProbeConfig, run_probe
from mimicry.probes.probing.run import run_probes

__all__ = ["ProbeConfig", "ProbeTable", "fit_layers", "probe_layers", "run_probe", "run_probes"]
