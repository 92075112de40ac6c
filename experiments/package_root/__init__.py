"""mimicry: does reasoning distillation transmit a teacher's difficulty-sensitive computation?

One import name. The layers, each importable alone: `mimicry.data` (items, human norms, traces),
`mimicry.distill` (teacher traces, ablations, SFT and RL students, the organism), `mimicry.probes`
(activations, attention entropy, probes, steering) and `mimicry.experiments` (behaviour, config,
pipeline, report, CLI). The source folders keep the project's top-level layout (`data/`,
`probes/`, `distill/`, `experiments/`); pyproject maps them under this package.
"""

__version__ = "0.1.0"
