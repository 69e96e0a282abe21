"""Evaluators: how a bench scores items (see :mod:`rankbench.bench.evaluators.base`).

:func:`make_evaluator` builds the one a config names in ``eval.harness``; the names and their classes
live in :data:`rankbench.names.EVAL_HARNESSES`. The bench holds the result as an :class:`Evaluator`
and calls ``evaluate(adapter_dir)`` for the probe and every variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rankbench.bench.evaluators.base import Evaluator, task_results

if TYPE_CHECKING:
    from rankbench.bench.config import BenchConfig
    from rankbench.bench.profiles.base import PreparedData, TaskProfile

__all__ = ["Evaluator", "make_evaluator", "task_results"]


def make_evaluator(
    cfg: BenchConfig,
    *,
    profile: TaskProfile | None = None,
    data: PreparedData | None = None,
    base: str | Path | None = None,
    device: str = "cpu",
) -> Evaluator:
    """The evaluator of ``cfg.eval.harness``: ``profile`` needs the profile and its prepared data,
    ``lm_eval`` the base model (a local folder or hub id; the profile resolves builtin names)."""
    harness = cfg.eval.harness
    if harness == "profile":
        from rankbench.bench.evaluators.profile import ProfileEvaluator

        if profile is None or data is None:
            raise ValueError("the profile evaluator needs the profile and its prepared data")
        return ProfileEvaluator(profile, cfg, data)
    from rankbench.bench.evaluators.lm_eval import LmEvalEvaluator, LmEvalSettings

    if base is None:
        raise ValueError("the lm_eval evaluator needs the base model's folder or hub id")
    return LmEvalEvaluator(LmEvalSettings.from_config(cfg.eval), base=base, device=device)
