"""One small builder per stage: it names the stage's units, their inputs and outputs, and wraps the
stage function another package exposes. The runner does ordering, skipping and resuming.

Every builder reads the run folder, never in-memory results of an earlier stage, so any stage can
be re-run alone (`mimicry run CONFIG --only capture`).
"""

from mimicry.experiments.pipeline.stages.analysis import (
    behaviour_stage,
    compare_stage,
    effort_stage,
    probe_stage,
)
from mimicry.experiments.pipeline.stages.capture import capture_stage
from mimicry.experiments.pipeline.stages.distillation import ablate_stage, distill_stage
from mimicry.experiments.pipeline.stages.generation import (
    data_stage,
    generate_stage,
    generate_students_stage,
)
from mimicry.experiments.pipeline.stages.steer_report import report_stage, steer_stage

STAGE_BUILDERS = {
    "data": data_stage,
    "generate": generate_stage,
    "ablate": ablate_stage,
    "distill": distill_stage,
    "generate_students": generate_students_stage,
    "behaviour": behaviour_stage,
    "capture": capture_stage,
    "probe": probe_stage,
    "effort": effort_stage,
    "compare": compare_stage,
    "steer": steer_stage,
    "report": report_stage,
}
