"""`rankbench report PATH`: re-render bench.json or bench_aggregate.json as Markdown or HTML (from the JSON
only), or, with ``--rebuild``, rebuild the JSON itself from the run folder's records."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rankbench.errors import RankbenchError
from rankbench.run_layout import AGGREGATE_HTML, AGGREGATE_JSON, BENCH_HTML, BENCH_JSON

HTML_NAMES = {"bench": BENCH_HTML, "bench_aggregate": AGGREGATE_HTML}


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="render bench.json / bench_aggregate.json (or a run folder) to Markdown or HTML",
        description="Render a bench.json or bench_aggregate.json (or the run folder holding one) as\n"
        "Markdown on stdout, or as a self-contained HTML page with --html; both are drawn from the\n"
        "JSON alone, nothing is recomputed. With --rebuild, rebuild the JSON itself from a run\n"
        "folder's stage records and locked config (or a campaign's seed folders), then its .md and\n"
        ".html; an unchanged folder rebuilds byte for byte.",
        epilog="examples:\n  rankbench report rankbench-out            # bench.md on stdout\n"
        "  rankbench report rankbench-out --html     # rankbench-out/bench.html\n"
        "  rankbench report rankbench-out --rebuild  # bench.json, bench.md, bench.html from the records",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", type=Path, help="a bench.json, a bench_aggregate.json, or a folder holding one")
    p.add_argument(
        "--html",
        action="store_true",
        help="write the self-contained HTML page with figures (needs matplotlib: rankbench[report]); "
        "default file: bench.html / bench_aggregate.html beside the JSON",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild bench.json (from a run folder's stage records) or bench_aggregate.json (from its "
        "seed folders), with its .md and .html; written into the folder, or into --output as a folder",
    )
    p.add_argument(
        "--output",
        "--out",
        type=Path,
        help="write here (default: stdout for Markdown, beside the JSON for HTML and --rebuild)",
    )
    p.set_defaults(func=run)


def _find(path: Path) -> Path:
    if path.is_dir():
        found = [path / n for n in (AGGREGATE_JSON, BENCH_JSON) if (path / n).is_file()]
        if not found:
            raise RankbenchError("no bench.json or bench_aggregate.json in this folder", path=path)
        return found[0]
    return path


def _html(doc: dict, kind: str, path: Path) -> str:
    from rankbench.report.html import bench_html_beside, render_aggregate_html
    from rankbench.report.svg import require_matplotlib

    require_matplotlib()  # fail early, with the install command, when matplotlib is missing
    try:
        return bench_html_beside(path.parent, doc) if kind == "bench" else render_aggregate_html(doc)
    except (KeyError, TypeError, AttributeError) as exc:
        raise RankbenchError(
            f"cannot draw the report: a field is missing or has the wrong type ({type(exc).__name__}: {exc})",
            path=path,
            hint="render an unmodified bench.json / bench_aggregate.json written by rankbench",
        ) from None


def run(args) -> int:
    from rankbench.io import atomic_write_text, read_json
    from rankbench.report.aggregate_md import render_aggregate
    from rankbench.report.bench_md import render_bench

    if args.rebuild:
        return rebuild(args.path, args.output)
    path = _find(args.path)
    doc = read_json(path)
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in HTML_NAMES:
        raise RankbenchError(
            f"not a rankbench artifact (kind={kind!r})",
            path=path,
            hint="give a bench.json or bench_aggregate.json written by rankbench",
        )
    if args.html:
        out = args.output or path.parent / HTML_NAMES[kind]
        atomic_write_text(out, _html(doc, kind, path))
        print(f"wrote {out}", file=sys.stderr)
        return 0
    text = render_bench(doc) if kind == "bench" else render_aggregate(doc)
    if args.output:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def rebuild(path: Path, out: Path | None) -> int:
    """Rebuild the artifact of a run or campaign folder from its records and write it with its pages."""
    from rankbench.artifacts.aggregate import rebuild_aggregate, write_aggregate
    from rankbench.artifacts.bench import rebuild_bench, write_bench

    folder = path.parent if path.is_file() else path
    if not folder.is_dir():
        raise RankbenchError("no such run folder", path=path, hint="give the --output folder of a run")
    target = out or folder
    if (folder / AGGREGATE_JSON).is_file():
        written = write_aggregate(target, rebuild_aggregate(folder))
    else:
        written = write_bench(target, rebuild_bench(folder), run_root=folder)
    print(f"rebuilt from the records in {folder}:", file=sys.stderr)
    for path in written:
        print(f"  {path}", file=sys.stderr)
    return 0
