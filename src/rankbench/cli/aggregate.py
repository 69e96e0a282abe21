"""`rankbench aggregate DIR...`: pool finished single-seed runs of one config into bench_aggregate.json."""

from __future__ import annotations

import sys
from pathlib import Path

from rankbench.errors import RankbenchError
from rankbench.run_layout import AGGREGATE_JSON, AGGREGATE_MD


def register(sub) -> None:
    p = sub.add_parser("aggregate", help="aggregate single-seed runs of one config over seeds")
    p.add_argument("runs", nargs="+", type=Path, help="run folders (each with bench.json)")
    p.add_argument("--output", type=Path, required=True, help="folder for bench_aggregate.json/.md/.html")
    p.add_argument("--include-smoke", action="store_true", help="count smoke runs (excluded by default)")
    p.add_argument("--policy", type=Path, help="claim policy YAML (default: the shipped policy)")
    p.add_argument("--json", action="store_true", help="also print bench_aggregate.json on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from rankbench.artifacts.aggregate import aggregate_runs, write_aggregate
    from rankbench.stats import load_policy

    for p in args.runs:
        if not p.exists():
            raise RankbenchError("run folder not found", path=p)
    doc = aggregate_runs(args.runs, include_smoke=args.include_smoke, policy=load_policy(args.policy))
    write_aggregate(args.output, doc)
    for note in doc["summary"]["notes"][:1]:
        print(note, file=sys.stderr)
    print(f"wrote {args.output / AGGREGATE_JSON} and {AGGREGATE_MD}", file=sys.stderr)
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0
