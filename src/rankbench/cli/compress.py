"""``rankbench compress ADAPTER --plan SPEC --out DIR``: write a smaller PEFT adapter.

Each module's new ΔW is the best rank-k approximation of the original (truncated SVD from the factors).
The folder loads with ``PeftModel.from_pretrained`` on the same base model and carries
``compression.json`` (source sha256, rule, plan, per-module discarded energy). A summary goes to stderr;
``--json`` prints the record on stdout.
"""

from __future__ import annotations

import contextlib
import json
import sys

from rankbench.cli.suggest import add_plan_options
from rankbench.names import COMPRESS_METHODS, PLAN_MENU
from rankbench.threads import pin_blas_for_audit


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compress",
        help="write a smaller adapter from a plan (truncated SVD)",
        description="Build a smaller PEFT LoRA adapter: the best rank-k approximation of every module.",
    )
    p.add_argument(
        "adapter",
        help="PEFT adapter folder, or one kohya / diffusers / LyCORIS .safetensors file (written back in "
        "the same format; LyCORIS LoHa/LoKr become a kohya LoRA)",
    )
    p.add_argument("--plan", required=True, metavar="SPEC", help=f"one of: {PLAN_MENU}")
    p.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="new adapter folder (must not exist, or be empty); for a single-file adapter a new .safetensors file",
    )
    add_plan_options(p)
    p.add_argument(
        "--max-rank",
        type=int,
        metavar="K",
        help="cap every module at rank K whatever the plan says (serving limits: vLLM's max_lora_rank, "
        "hosted services at 32); recorded in compression.json",
    )
    p.add_argument(
        "--method", choices=COMPRESS_METHODS, default="truncate", help="random_subspace is a control"
    )
    p.add_argument("--seed", type=int, default=0, help="for --method random_subspace")
    p.add_argument("--json", action="store_true", help="print the compression record as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run)


def summary(out, plan, record) -> str:
    ks = sorted(plan.ranks.values())
    ranks = str(ks[0]) if ks[0] == ks[-1] else f"{ks[0]}..{ks[-1]}"
    size = f", {record.source_bytes:,} -> {record.out_bytes:,} bytes" if record.out_bytes is not None else ""
    capped = (
        f", {len(plan.capped_modules)} capped at their non-zero singular values"
        if plan.capped_modules
        else ""
    )
    return (
        f"wrote {out}: {len(ks)} modules at rank {ranks} ({plan.name}"
        f"{f', capped at {plan.max_rank}' if plan.max_rank else ''}, rule {plan.rule or 'none'}, "
        f"{record.method}{capped}), {record.lora_params:,} LoRA params (-{100 * record.param_reduction:.1f}%), "
        f"discarded energy {100 * record.discarded_energy_fraction:.2f}%{size}, {record.seconds:.1f} s; "
        f"format {record.format}" + (f" -> {record.out_format}" if record.out_format != record.format else "")
    )


def run(args) -> int:
    with contextlib.ExitStack() as stack:
        workers = pin_blas_for_audit(stack)  # before anything imports numpy
        plan, record = _compress(args, workers)
    if not args.quiet:
        print(summary(args.out, plan, record), file=sys.stderr)
    if record.out_bytes is not None and record.out_bytes > record.source_bytes:
        _warn_larger(args.out, record)
    if args.json:
        print(json.dumps(record.to_dict(), indent=2))
    return 0


def _compress(args, workers: int):
    """(plan, record): check the input and output, plan, write, and check the result."""
    from rankbench.adapters.writer import check_out_dir
    from rankbench.suggest.compress import compress_adapter
    from rankbench.suggest.compress_file import check_out_file, compress_file
    from rankbench.suggest.plans import cap_ranks, make_plan
    from rankbench.suggest.spectra import compute_spectra
    from rankbench.suggest.verify import verify_truncation

    single = _check_input(args)
    check_out_file(args.out) if single else check_out_dir(args.out)  # refuse before the work
    spectra = compute_spectra(args.adapter, workers=workers)
    plan = make_plan(
        args.plan,
        spectra,
        rule=args.rule,
        allowed_ranks=args.allowed_ranks,
        alpha_policy=args.alpha_policy,
        cap_numerical_rank=single,
    )
    if args.max_rank is not None:
        plan = cap_ranks(plan, spectra, args.max_rank)
    if single:
        record = compress_file(args.adapter, plan, args.out, workers=workers)
    else:
        record = compress_adapter(
            args.adapter,
            plan,
            args.out,
            method=args.method,
            seed=args.seed,
            spectra=spectra,
            workers=workers,
        )
    if args.method == "truncate":  # read the output back: every ΔW must be its truncation
        verify_truncation(args.out, spectra, plan)
    return plan, record


def _check_input(args) -> bool:
    """Refuse a bad rule, method or adapter up front; True for a single-file (non-PEFT) adapter."""
    from rankbench.adapters import open_adapter
    from rankbench.errors import RankbenchError
    from rankbench.suggest.compress import check_compressible
    from rankbench.suggest.rules import parse_rule

    parse_rule(args.rule)
    with open_adapter(args.adapter) as adapter:
        check_compressible(adapter, args.method)
        fmt = adapter.format
    single = fmt != "peft"
    if single and args.method != "truncate":
        raise RankbenchError(
            f"--method {args.method} is for PEFT folders; a {fmt} file is compressed by truncation",
            hint="drop --method",
        )
    return single


def _warn_larger(out, record) -> None:
    from rankbench.errors import warn

    warn(
        f"{out} is larger than its source ({record.source_bytes:,} -> {record.out_bytes:,} bytes): "
        "LoHa/LoKr store dW more compactly than a plain LoRA of this rank; the conversion buys "
        "compatibility, not size (choose a smaller --plan for a smaller file)"
        if record.format == "lycoris"
        else f"{out} is larger than its source ({record.source_bytes:,} -> {record.out_bytes:,} bytes)"
    )
