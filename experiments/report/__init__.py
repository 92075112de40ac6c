"""The study's report: `build_report(RUN)` renders `RUN/report/index.html` and `report.md` from the
run directory's tables (behaviour, probes, entropy, comparisons, ablations, steering, exclusions)."""

from mimicry.experiments.report.render import build_report

__all__ = ["build_report"]
