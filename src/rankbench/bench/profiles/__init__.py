"""Task profiles by name (the names live in :data:`rankbench.names.PROFILES`). Each is imported lazily so
that a missing optional dependency of one profile does not break the others."""

from __future__ import annotations

import importlib

from rankbench import names
from rankbench.errors import RankbenchError


def get_profile(name: str):
    if name not in names.PROFILES:
        raise RankbenchError(
            f"unknown task profile {name!r}", hint=f"known profiles: {', '.join(sorted(names.PROFILES))}"
        )
    module, cls = names.PROFILES[name][0].split(":")
    return getattr(importlib.import_module(module), cls)()
