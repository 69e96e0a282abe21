"""``rankbench suggest ADAPTER``: print rank plans for an adapter; writes nothing.

Human table on stdout by default (plan, rank(s), LoRA params, reduction, discarded energy); ``--json``
prints only JSON. The rule and its parameter are named in both.

Nothing here imports numpy at module level: the dispatcher imports every subcommand module to build
the parser, and BLAS thread pools must be pinned (:func:`rankbench.threads.pin_blas_for_audit`) before numpy starts them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics

from rankbench.names import ALPHA_POLICIES, PLAN_MENU, RULE_NAMES
from rankbench.suggest.document import DEFAULT_PLANS, DEFAULT_RULE, suggest_document
from rankbench.threads import pin_blas_for_audit


def int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rule",
        default=DEFAULT_RULE,
        help=f"per-module rank rule (default {DEFAULT_RULE}); one of: {', '.join(RULE_NAMES)}. energy:TAU keeps "
        "the smallest k with cumulative sigma^2 >= TAU of the total. kohya's sv_fro:T, sv_cumulative:T and "
        "sv_ratio:Q keep the rank sd-scripts' resize_lora.py writes: one direction beyond the smallest k "
        "with sqrt(cumulative sigma^2) >= T, with cumulative sigma >= T, or beyond the count of "
        "sigma_i > sigma_1/Q; at least 2, at most r. For the smallest k itself use energy:T^2 "
        "(energy:0.81 for sv_fro:0.9)",
    )
    p.add_argument(
        "--allowed-ranks",
        type=int_list,
        default=None,
        metavar="K,K,...",
        help="ranks that uniform/per-layer plans round up to (default: powers of two up to r, and r)",
    )
    p.add_argument("--alpha-policy", choices=ALPHA_POLICIES, default="keep_scale", help="default keep_scale")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "suggest",
        help="suggest smaller ranks (prints plans, writes nothing)",
        description="Print rank plans for a PEFT LoRA adapter from its exact singular values.",
    )
    p.add_argument("adapter", help="PEFT adapter folder, or a kohya / diffusers / LyCORIS .safetensors file")
    p.add_argument(
        "--plan",
        action="append",
        dest="plans",
        metavar="SPEC",
        help=f"plan to show (repeatable; default: {', '.join(DEFAULT_PLANS)}); one of: {PLAN_MENU}",
    )
    add_plan_options(p)
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.set_defaults(func=run)


def rank_text(plan) -> str:
    ks = sorted(plan.ranks.values())
    if plan.uniform_rank is not None:
        capped = sum(k < plan.uniform_rank for k in ks)
        return f"{plan.uniform_rank}" + (f" ({capped} module(s) keep a smaller r)" if capped else "")
    if ks[0] == ks[-1]:
        return f"{ks[0]} (every module)"
    return f"{ks[0]}..{ks[-1]} (median {float(statistics.median(ks)):g})"


def table(plans: dict) -> str:
    head = ("plan", "rank(s)", "LoRA params", "reduction", "discarded energy")
    rows = [
        (
            name,
            rank_text(p),
            f"{p.lora_params:,}",
            f"{100 * p.param_reduction:.1f}%",
            f"{100 * p.discarded_energy_fraction:.2f}%",
        )
        for name, p in plans.items()
    ]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(line.format(*r) for r in [head, *rows])


def run(args) -> int:
    with contextlib.ExitStack() as stack:
        workers = pin_blas_for_audit(stack)
        from rankbench.suggest.plans import make_plan
        from rankbench.suggest.rules import parse_rule
        from rankbench.suggest.spectra import compute_spectra

        rule = parse_rule(args.rule)  # fail on a bad rule before reading the adapter
        spectra = compute_spectra(args.adapter, workers=workers)
        kw = {
            "rule": args.rule,
            "allowed_ranks": args.allowed_ranks,
            "alpha_policy": args.alpha_policy,
            "cap_numerical_rank": spectra.format != "peft",  # as compress writes single files
        }
        plans = {spec: make_plan(spec, spectra, **kw) for spec in args.plans or DEFAULT_PLANS}
    first = next(iter(plans.values()))
    if args.json:
        print(
            json.dumps(suggest_document(spectra.path, spectra.sha256, rule, plans, spectra.format), indent=2)
        )
        return 0
    r_max = max(first.source_ranks.values())
    other = f"; {first.other_params:,} params in other tensors, not counted" if first.other_params else ""
    print(
        f"adapter: {spectra.path}  ({spectra.format}, {len(first.ranks)} modules, r={r_max}, "
        f"{first.source_lora_params:,} LoRA params{other})"
    )
    print(f"rule:    {rule.describe()}")
    print(f"alpha:   {first.alpha_policy}")
    if spectra.format == "lycoris":
        print("note:    LoHa/LoKr modules are counted as the plain LoRA each plan would write (compress")
        print("         converts them to kohya LoRA modules); their own stored size is smaller, see audit")
    print()
    print(table(plans))
    return 0
