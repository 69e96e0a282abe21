"""The published JSON Schemas of rankbench's artifacts, one file each beside this module.

``bench`` (bench.json) and ``bench_aggregate`` (bench_aggregate.json) are supersets of the seed
artifact format: every key of its examples is declared with its type, and required. ``audit`` is
``rankbench audit --json`` and ``compression`` the compression.json of a compressed folder. Objects
may carry more keys than a schema lists; the listed ones are the contract scripts can rely on.
"""

from __future__ import annotations

import json
from importlib.resources import files

from rankbench.errors import RankbenchError

SCHEMA_NAMES = ("bench", "bench_aggregate", "audit", "compression")


def schema_text(name: str) -> str:
    """The schema file's text, as shipped."""
    if name not in SCHEMA_NAMES:
        raise RankbenchError(
            f"no schema named {name!r}; the schemas are: {', '.join(SCHEMA_NAMES)}",
            hint="rankbench schema NAME, e.g. rankbench schema bench",
        )
    return (files("rankbench") / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict:
    return json.loads(schema_text(name))
