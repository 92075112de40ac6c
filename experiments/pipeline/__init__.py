"""The whole study as one resumable pipeline: `run_pipeline(config, run_dir)` runs the stages
data -> generate -> ablate -> distill -> generate_students -> behaviour -> capture -> probe ->
compare -> steer -> report, skipping units whose inputs are unchanged."""

from mimicry.experiments.pipeline.runner import RunContext, Unit, UnitResult, run_pipeline

__all__ = ["RunContext", "Unit", "UnitResult", "run_pipeline"]
