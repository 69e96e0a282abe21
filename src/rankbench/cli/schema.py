"""`rankbench schema [NAME]`: print the JSON Schema of an artifact (bench, bench_aggregate, audit, compression)."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of an artifact",
        description="Print the JSON Schema of bench.json, bench_aggregate.json, the audit JSON or "
        "compression.json on stdout. Without NAME, list the names.",
    )
    p.add_argument("name", nargs="?", help="bench | bench_aggregate | audit | compression")
    p.set_defaults(func=run)


def run(args) -> int:
    from rankbench.schemas import SCHEMA_NAMES, schema_text

    if args.name is None:
        print("\n".join(SCHEMA_NAMES))
        return 0
    sys.stdout.write(schema_text(args.name))
    return 0
