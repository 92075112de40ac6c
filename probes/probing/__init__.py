"""Linear probes of difficulty and effort per layer, with grouped CV, controls and statistics."""

from mimicry.probes.probing.probe import ProbeConfig, run_probe
from mimicry.probes.probing.run import run_probes

__all__ = ["ProbeConfig", "run_probe", "run_probes"]
