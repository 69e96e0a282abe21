"""Task profiles by name. Each is imported lazily so that a missing optional dependency of one profile
does not break the others."""

from __future__ import annotations

import importlib

from rankbench.errors import RankbenchError

PROFILES = {
    "seqcls": "rankbench.bench.profiles.seqcls:SeqClsProfile",
    "causal_lm_exact_match": "rankbench.bench.profiles.causal_lm:CausalLMExactMatchProfile",
}


def get_profile(name: str):
    if name not in PROFILES:
        raise RankbenchError(
            f"unknown task profile {name!r}", hint=f"known profiles: {', '.join(sorted(PROFILES))}"
        )
    module, cls = PROFILES[name].split(":")
    return getattr(importlib.import_module(module), cls)()
