"""The default suggestion and the document that carries it (``rankbench suggest --json``, suggest.json).

One home for what "the suggestion" means when the user names nothing: the rule, the plans, and the
layout and schema version of the document. The command line, the audit's HTML page, the config
defaults, the training monitor and the plan builders import these.

This module imports nothing (not even numpy): the command-line parser reads the defaults while it is
built, before BLAS thread pools are pinned.
"""

from __future__ import annotations

DEFAULT_RULE = "energy:0.9"
DEFAULT_PLANS = ("uniform_median", "uniform_p90", "per_layer", "budget:0.5")
SCHEMA_VERSION = 1


def suggest_document(adapter_path: str, sha256: str, rule, plans: dict, fmt: str = "peft") -> dict:
    """The suggest document: ``rule`` is a parsed :class:`rankbench.suggest.rules.Rule`, ``plans`` maps a
    plan name to its :class:`rankbench.suggest.plans.Plan`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "suggest",
        "adapter": adapter_path,
        "format": fmt,
        "sha256": sha256,
        "rule": rule.spec,
        "rule_definition": rule.describe(),
        "plans": {name: p.to_dict() for name, p in plans.items()},
    }
