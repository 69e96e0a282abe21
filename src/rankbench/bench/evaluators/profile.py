"""The default evaluator: the task profile's own metric on the profile's prepared eval items."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankbench.bench.config import BenchConfig
    from rankbench.bench.profiles.base import EvalResult, PreparedData, ProgressFn, TaskProfile


class ProfileEvaluator:
    """Delegates to ``profile.evaluate`` (today's bench behaviour, unchanged)."""

    name = "profile"

    def __init__(self, profile: TaskProfile, cfg: BenchConfig, data: PreparedData):
        self.profile, self.cfg, self.data = profile, cfg, data

    def evaluate(self, adapter_dir: Path, *, progress: ProgressFn | None = None) -> EvalResult:
        return self.profile.evaluate(self.cfg, self.data, adapter_dir, progress=progress)

    def provenance(self) -> dict:
        return {
            "harness": self.name,
            "profile": self.profile.name,
            "metric_key": self.profile.primary_metric_key,
        }
