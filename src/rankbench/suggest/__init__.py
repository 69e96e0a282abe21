"""Rank suggestions: named selection rules, uniform / per-layer / budgeted plans, and compression.

- :mod:`.rules`     one module's σ → a rank, by a named rule (``energy:0.9``, ``sv_fro:0.9``, …)
- :mod:`.allocate`  rounding to an allowed set; the optimal allocation of a parameter budget
- :mod:`.plans`     :class:`Plan` (a rank for every module) and :func:`make_plan`, PEFT config output
- :mod:`.spectra`   one read of an adapter → σ per module plus the factorisations compression reuses
- :mod:`.compress`  :func:`compress_adapter`: write the truncated adapter folder (the I/O edge)
"""

from rankbench.suggest.plans import Plan, make_plan, plan_from_ranks
from rankbench.suggest.rules import RULES, Rule, parse_rule

__all__ = ["RULES", "Plan", "Rule", "make_plan", "parse_rule", "plan_from_ranks"]
