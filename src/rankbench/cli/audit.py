"""`rankbench audit PATH`: exact singular values and rank metrics of every LoRA module.

Imports stay inside :func:`run` so that `rankbench --help` is fast and BLAS is pinned before numpy
starts its pool: one thread per call, one module per core (see
:func:`rankbench.threads.pin_blas_for_audit`), unless the user set OMP/OPENBLAS/MKL_NUM_THREADS.
"""

from __future__ import annotations

import contextlib
import json
import sys

from rankbench.suggest.document import DEFAULT_PLANS, DEFAULT_RULE
from rankbench.threads import pin_blas_for_audit

METHOD_CHOICES = ("exact", "gram")


def _non_negative(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {n}")
    return n


def register(sub) -> None:
    p = sub.add_parser(
        "audit",
        help="exact spectral audit of a LoRA adapter: how much of its rank is used",
        description="Read a PEFT LoRA adapter (a folder with adapter_config.json and "
        "adapter_model.safetensors, or a hub id when online) or one kohya / diffusers / LyCORIS "
        ".safetensors file (the format is detected from the keys) and report the exact singular values of "
        "every ΔW = scale·B·A, with stable, effective and energy ranks and utilization. "
        "The adapter folder is only read.",
    )
    p.add_argument(
        "path",
        nargs="?",
        help="adapter folder, a single-file LoRA (.safetensors; .ckpt/.pt read with weights_only), or a hub "
        "id like owner/name (needs huggingface_hub and a network)",
    )
    p.add_argument(
        "--timeline",
        metavar="FILE",
        help="instead of an adapter, summarise a rankbench_spectra.jsonl written while training "
        "(first and last sample, warnings); --json prints the summary as JSON",
    )
    p.add_argument("--revision", help="hub revision (branch, tag or commit) when PATH is a hub id")
    p.add_argument(
        "--json", action="store_true", help="print one JSON document (audit.json) on stdout, nothing else"
    )
    p.add_argument(
        "--method",
        choices=METHOD_CHOICES,
        default="exact",
        help="exact (default): QR-based, exact tails; gram: eigenvalues of the Gram matrices, faster but "
        "singular values below ~1e-8·σ₁ are wrong (the output says so)",
    )
    p.add_argument(
        "--layers", action="store_true", help="one row per layer (block index) instead of one per module"
    )
    p.add_argument(
        "--top-wasteful",
        type=_non_negative,
        default=5,
        metavar="N",
        help="list the N modules with the lowest utilization (default: %(default)s)",
    )
    p.add_argument("--summary-only", action="store_true", help="skip the module table")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML page with the spectra, retained energy and rank map, and the "
        "default plans of `rankbench suggest` (under --rule); needs matplotlib (rankbench[report])",
    )
    p.add_argument(
        "--rule",
        default=None,
        help=f"with --html: the per-module rank rule of the page's plans (default {DEFAULT_RULE}), as in "
        "`rankbench suggest --rule`",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def write_audit_html(path: str, result, rule: str = DEFAULT_RULE) -> None:
    """The audit page: the figures of the audit and of suggest's default plans, built by the library."""
    from rankbench.io import atomic_write_text
    from rankbench.report.html import render_audit_html
    from rankbench.suggest.plans import make_plan

    plans = {spec: make_plan(spec, result, rule=rule).to_dict() for spec in DEFAULT_PLANS}
    atomic_write_text(path, render_audit_html(result.to_dict(), plans, rule))
    print(f"wrote {path}", file=sys.stderr)


def run_timeline(args) -> int:
    from rankbench.monitor.timeline import render_timeline, summarize_timeline

    summary = summarize_timeline(args.timeline)
    print(json.dumps(summary, indent=2) if args.json else render_timeline(summary))
    return 0


def run(args) -> int:
    from rankbench.errors import RankbenchError

    if (args.path is None) == (args.timeline is None):
        raise RankbenchError(
            "give either an adapter PATH or --timeline FILE" + (", not both" if args.path else ""),
            hint="rankbench audit ADAPTER_DIR, or rankbench audit --timeline OUTPUT_DIR/rankbench_spectra.jsonl",
        )
    if args.rule is not None and not args.html:
        raise RankbenchError(
            "--rule only shapes the --html page's plans", hint="add --html FILE, or drop --rule"
        )
    if args.timeline is not None:
        return run_timeline(args)
    if args.html:
        from rankbench.report.svg import require_matplotlib

        require_matplotlib()  # before the audit: no matplotlib is exit 2 with the install command, not wasted work
        from rankbench.suggest.rules import parse_rule

        parse_rule(args.rule or DEFAULT_RULE)  # a bad rule is exit 2 before the audit's work, not after it
    with contextlib.ExitStack() as stack:
        workers = pin_blas_for_audit(stack)
        from rankbench.auditor import audit

        result = audit(
            args.path,
            method=args.method,
            revision=args.revision,
            top_wasteful=args.top_wasteful,
            workers=workers,
        )
    doc = result.to_dict()
    if args.html:
        write_audit_html(args.html, result, args.rule or DEFAULT_RULE)
    if args.json:
        json.dump(doc, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        from rankbench.report.audit_table import render_audit

        print(
            render_audit(
                doc, top_wasteful=args.top_wasteful, layers=args.layers, modules=not args.summary_only
            )
        )
    sys.stdout.flush()
    return 0
