"""`rankbench report PATH`: re-render bench.json or bench_aggregate.json as Markdown (from the JSON only)."""

from __future__ import annotations

import sys
from pathlib import Path

from rankbench.errors import RankbenchError


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="render bench.json / bench_aggregate.json (or a run folder) to Markdown"
    )
    p.add_argument("path", type=Path, help="a bench.json, a bench_aggregate.json, or a folder holding one")
    p.add_argument("--output", type=Path, help="write the Markdown here (default: stdout)")
    p.set_defaults(func=run)


def run(args) -> int:
    from rankbench.io import atomic_write_text, read_json
    from rankbench.report.aggregate_md import render_aggregate
    from rankbench.report.bench_md import render_bench

    path = args.path
    if path.is_dir():
        found = [path / n for n in ("bench_aggregate.json", "bench.json") if (path / n).is_file()]
        if not found:
            raise RankbenchError("no bench.json or bench_aggregate.json in this folder", path=path)
        path = found[0]
    doc = read_json(path)
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind == "bench":
        text = render_bench(doc)
    elif kind == "bench_aggregate":
        text = render_aggregate(doc)
    else:
        raise RankbenchError(
            f"not a rankbench artifact (kind={kind!r})",
            path=path,
            hint="give a bench.json or bench_aggregate.json written by rankbench",
        )
    if args.output:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
