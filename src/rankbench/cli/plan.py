"""`rankbench plan --discordance P --tolerance D [--seeds S]`: items × seeds a bench needs, before it runs.

The numbers come from the formulas the verdicts use (:func:`rankbench.stats.power.plan_items`): the
single-seed Tango test for one seed, the decision interval (t with S − 1 df) for several. The
discordance is the share of items a compressed variant and the probe disagree on; a first bench (the
probe and its first rung) estimates it.
"""

from __future__ import annotations

import json
import math

from rankbench.errors import RankbenchError

DEFAULT_SEEDS = (1, 3, 5, 10)


def register(sub) -> None:
    p = sub.add_parser("plan", help="items and seeds needed to resolve a tolerance, before a bench runs")
    p.add_argument(
        "--discordance",
        type=float,
        required=True,
        help="share of items variant and probe disagree on (e.g. 0.02)",
    )
    p.add_argument("--tolerance", type=float, required=True, help="accuracy loss you accept (e.g. 0.01)")
    p.add_argument("--seeds", type=int, help=f"seeds of the campaign (default: a table for {DEFAULT_SEEDS})")
    p.add_argument(
        "--seed-sd", type=float, default=0.0, help="SD of the true Δ across training seeds (default 0)"
    )
    p.add_argument(
        "--alpha", type=float, default=0.05, help="1 − the interval's confidence (default 0.05: 95%%)"
    )
    p.add_argument("--power", type=float, default=0.8, help="power to reach at Δ = 0 (default 0.8)")
    p.add_argument("--json", action="store_true", help="print the plans as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from rankbench.stats.power import plan_items

    if not (0.0 < args.alpha < 1.0) or not math.isfinite(args.alpha):
        raise RankbenchError(f"--alpha must be in (0, 1), got {args.alpha:g}", hint="e.g. --alpha 0.05")
    seeds = DEFAULT_SEEDS if args.seeds is None else (args.seeds,)
    plans = [
        plan_items(
            args.discordance, args.tolerance, seeds=s, seed_sd=args.seed_sd, confidence=1.0 - args.alpha,
            power=args.power,
        )
        for s in seeds
    ]  # fmt: skip
    if args.json:
        print(json.dumps([p.to_dict() for p in plans], indent=2))
        return 0
    first = plans[0]
    print(
        f"discordance {first.discordance:g}, tolerance {first.tolerance:g}, {first.confidence:.0%} interval, "
        f"{first.power:.0%} power to PASS a variant as good as the probe (Δ = 0), seed SD {first.seed_sd:g}"
    )
    print(f"{'seeds':>5}  {'items/seed':>10}  {'total items':>11}  {'power':>5}")
    for p in plans:
        if p.items_per_seed is None:
            print(f"{p.seeds:>5}  {'unreachable':>10}  {'-':>11}  {'-':>5}")
        else:
            print(f"{p.seeds:>5}  {p.items_per_seed:>10,}  {p.total_items:>11,}  {p.achieved_power:>5.3f}")
    for p in plans:
        print(f"method ({p.seeds} seed{'s' if p.seeds > 1 else ''}): {p.method}")
        for note in p.notes:
            print(f"note: {note}")
    return 0
