"""Evaluators: how a bench scores items (see :mod:`rankbench.bench.evaluators.base`).

:func:`make_evaluator` builds the one a config names in ``eval.harness``; the names and their classes
live in :data:`rankbench.names.EVAL_HARNESSES`.
"""

from __future__ import annotations

from rankbench.bench.evaluators.base import Evaluator, task_results

__all__ = ["Evaluator", "task_results"]
