"""`rankbench compare BASELINE CANDIDATE...`: paired non-inferiority verdicts from existing eval logs.

Inputs are lm-eval ``--log_samples`` output (a folder or ``samples_<task>_<date>.jsonl``), rankbench
run folders or ``predictions.jsonl``, or generic JSONL/CSV with ``--id COL --score COL``; each is
detected and named in the output. The table goes to stdout (to stderr with ``--json``, which prints
only the JSON document on stdout); ``--markdown FILE`` writes the same as Markdown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rankbench.errors import CheckFailed


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="paired non-inferiority verdicts of candidates against a baseline, from eval logs",
        description="Compare per-item scores of one or more candidates with a baseline on the same "
        "items: the discordant counts, Δ with its interval (Tango's for 1/0 scores), the verdict at "
        "--tolerance and the smallest margin the items resolve.",
    )
    p.add_argument("baseline", type=Path, help="the reference: lm-eval output, predictions.jsonl, JSONL/CSV")
    p.add_argument("candidates", type=Path, nargs="+", help="one or more inputs of the same kind")
    pick = p.add_argument_group("what to compare (required when an input offers several)")
    pick.add_argument("--task", help="lm-eval task, in an output folder with several tasks")
    pick.add_argument("--metric", help="lm-eval per-item metric, e.g. acc, acc_norm, exact_match")
    pick.add_argument("--filter", help="lm-eval filter of a generation task, e.g. strict-match")
    pick.add_argument("--id", dest="id_column", metavar="COL", help="id column of generic JSONL/CSV input")
    pick.add_argument("--score", dest="score_column", metavar="COL", help="score column (values in [0, 1])")
    p.add_argument(
        "--tolerance", type=float, default=0.01, help="largest loss accepted (default: %(default)s)"
    )
    p.add_argument("--confidence", type=float, default=0.95, help="interval level (default: %(default)s)")
    p.add_argument(
        "--intersect", action="store_true", help="compare on the common items when item sets differ"
    )
    p.add_argument(
        "--holm", action="store_true", help="add Holm-adjusted verdicts over all candidates (family-wise)"
    )
    p.add_argument(
        "--ladder",
        action="store_true",
        help="candidates are listed largest to smallest: test them in that fixed sequence and claim the "
        "smallest that passes before the first failure (family-wise)",
    )
    p.add_argument(
        "--evaluate-all",
        action="store_true",
        help="with --ladder: show the rungs after the first failure too",
    )
    p.add_argument("--json", action="store_true", help="print the JSON document on stdout (table to stderr)")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the result as Markdown")
    p.add_argument(
        "--html", type=Path, metavar="FILE", help="also write a self-contained HTML page (needs matplotlib)"
    )
    p.add_argument(
        "--require-pass",
        action="store_true",
        help="exit 1 when a candidate FAILs (its Holm verdict with --holm)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from rankbench.compare import Selection, compare_all, failed, load_input
    from rankbench.io import atomic_write_text, to_jsonable
    from rankbench.report.compare_md import render_compare, render_compare_md
    from rankbench.stats._validate import check_confidence, check_tolerance

    tolerance, confidence = check_tolerance(args.tolerance), check_confidence(args.confidence)
    _check_ladder_flags(args)
    if args.html:
        from rankbench.report.svg import require_matplotlib

        require_matplotlib()  # exit 2 with the install command before reading anything
    sel = Selection(args.task, args.metric, args.filter, args.id_column, args.score_column)
    baseline = load_input(args.baseline, sel)
    candidates = [load_input(c, sel) for c in args.candidates]
    doc = compare_all(
        baseline, candidates, tolerance=tolerance, confidence=confidence, intersect=args.intersect,
        holm=args.holm,
    )  # fmt: skip
    table = render_compare(doc)
    if args.ladder:
        from rankbench.compare.ladder import LADDER_NOTE, ladder_block, render_ladder

        doc["ladder"] = ladder_block(doc, evaluate_all=args.evaluate_all)
        doc["notes"].append(LADDER_NOTE)
        table += render_ladder(doc["ladder"])
    if args.json:
        print(json.dumps(to_jsonable(doc), indent=2, ensure_ascii=False))
        sys.stderr.write(table)
    else:
        sys.stdout.write(table)
    if args.markdown:
        atomic_write_text(args.markdown, render_compare_md(doc))
        print(f"wrote {args.markdown}", file=sys.stderr)
    if args.html:
        from rankbench.report.html import render_compare_html

        atomic_write_text(args.html, render_compare_html(to_jsonable(doc)))
        print(f"wrote {args.html}", file=sys.stderr)
    bad = failed(doc)
    if args.require_pass and bad:
        raise CheckFailed(
            f"{len(bad)} of {len(doc['comparisons'])} candidates FAIL non-inferiority at "
            f"tolerance {tolerance:g}: {', '.join(bad)}"
        )
    return 0


def _check_ladder_flags(args) -> None:
    from rankbench.errors import RankbenchError

    if args.evaluate_all and not args.ladder:
        raise RankbenchError("--evaluate-all needs --ladder", hint="add --ladder, or drop --evaluate-all")
    if args.ladder and args.holm:
        raise RankbenchError(
            "--ladder and --holm are two different family-wise procedures; choose one",
            hint="--ladder for the smallest safe candidate (listed largest first), --holm for all of them",
        )
