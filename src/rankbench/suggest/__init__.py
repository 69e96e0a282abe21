"""Rank suggestions: named selection rules, uniform / per-layer / budgeted plans, and compression.

- :mod:`.rules`     one module's σ → a rank, by a named rule (``energy:0.9``, ``sv_fro:0.9``, …)
- :mod:`.allocate`  rounding to an allowed set; the optimal allocation of a parameter budget
- :mod:`.plans`     :class:`Plan` (a rank for every module) and :func:`make_plan`, PEFT config output
- :mod:`.spectra`   one read of an adapter → σ per module plus the factorisations compression reuses
- :mod:`.compress`  :func:`compress_adapter`: write the truncated adapter folder (the I/O edge)
- :mod:`.document`  the default rule and plans, and the suggest document (imports nothing)

The names below load on first use, so that the command line can read :mod:`.document` while its parser
is built without starting numpy (BLAS thread pools are pinned first).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Plan": "plans",
    "make_plan": "plans",
    "plan_from_ranks": "plans",
    "RULES": "rules",
    "Rule": "rules",
    "parse_rule": "rules",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rankbench.suggest' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rankbench.suggest.{_EXPORTS[name]}"), name)
