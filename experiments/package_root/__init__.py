"""mimicry: does reasoning distillation transmit a teacher's difficulty-sensitive computation?

One import name. The layers, each importable alone: `mimicry.data` (items, human norms, traces),
`mimicry.distill` (teacher traces, ablations, SFT and RL students, the organism), `mimicry.probes`
(activations, attention entropy, probes, steering) and `mimicry.experiments` (behaviour, config,
pipeline, report, CLI). The source folders keep the project's top-level layout (`data/`,
`probes/`, `distill/`, `experiments/`); pyproject maps them under this package.

The in-memory API (what the CLI and the pipeline wrap), imported on first use:

    items = mimicry.load_task("relational_3ps")            # items as a DataFrame
    cap = mimicry.capture("organism:teacher", items)       # or a path, or a loaded HF model
    table = mimicry.probe_layers(cap, targets=["human_rt"]); table.plot(ax=ax)
    tables = mimicry.alignment(mimicry.generate("organism:teacher", items), items)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> "module:attribute"; loaded lazily so `import mimicry.data...` stays light.
_API = {
    "capture": "mimicry.api:capture",
    "generate": "mimicry.api:generate",
    "resolve_model": "mimicry.api:resolve_model",
    "Capture": "mimicry.probes.capture.api:Capture",
    "probe_layers": "mimicry.probes.probing.layers:probe_layers",
    "ProbeTable": "mimicry.probes.probing.layers:ProbeTable",
    "ProbeConfig": "mimicry.probes.config:ProbeConfig",
    "alignment": "mimicry.experiments.behaviour.analysis:alignment",
    "AlignmentTables": "mimicry.experiments.behaviour.analysis:AlignmentTables",
    "BehaviourConfig": "mimicry.experiments.config.stage_options:BehaviourConfig",
    "EffortConfig": "mimicry.probes.config:EffortConfig",
    "load_task": "mimicry.data.tasks:load_task",
    "list_tasks": "mimicry.data.tasks:list_tasks",
    "read_items": "mimicry.data.items:read_items",
    "read_traces": "mimicry.data.traces:read_traces",
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'mimicry' has no attribute {name!r}")
    module, _, attribute = _API[name].partition(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
