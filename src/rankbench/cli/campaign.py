"""`rankbench run --seeds 42,43,44`: one bench per seed into OUTPUT/seed_N, then the aggregate."""

from __future__ import annotations

import sys
from pathlib import Path

from rankbench.errors import CheckFailed, RankbenchError
from rankbench.run_layout import AGGREGATE_JSON, BENCH_JSON


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise RankbenchError(f"--seeds expects comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise RankbenchError(f"--seeds expects distinct non-negative integers, got {text!r}")
    return seeds


def run_campaign(args) -> int:
    from rankbench.artifacts.aggregate import aggregate_runs, write_aggregate
    from rankbench.cli.bench_args import resolve
    from rankbench.io import default_cache_root
    from rankbench.keys import BEST_COMPRESSION
    from rankbench.runner.executors import LocalExecutor, RayExecutor, SeedJob
    from rankbench.stats import load_policy

    seeds = parse_seeds(args.seeds)
    policy = load_policy(args.policy)
    jobs = []
    for seed in seeds:
        cfg = resolve(args, seed)
        if cfg.compression.ladder is not None and not cfg.compression.evaluate_all:
            # the campaign's claim is one fixed sequence over every seed's rung: each seed evaluates all
            cfg.compression.evaluate_all = True
            if seed == seeds[0] and not args.quiet:
                print(
                    "[rankbench] ladder campaign: every seed evaluates every rung; the campaign's claim is the "
                    "fixed sequence over the rungs' pooled verdicts (bench_aggregate.json `ladder`)",
                    file=sys.stderr,
                )
        jobs.append(
            SeedJob(
                seed,
                args.output / f"seed_{seed}",
                cfg.to_dict(),
                bool(args.smoke),
                default_cache_root(),
                quiet=args.quiet,
            )
        )
    cfg0 = resolve(args, seeds[0])
    if args.executor == "ray":
        executor = RayExecutor(args.address, cfg0.executor.cpus_per_task, cfg0.executor.gpus_per_task)
    else:
        executor = LocalExecutor()
    done = [s for s in seeds if _finished(args.output / f"seed_{s}")]
    if done and not args.quiet:
        print(f"[rankbench] seeds already finished, skipped: {', '.join(map(str, done))}", file=sys.stderr)
    todo = [j for j in jobs if j.seed not in done]
    results = executor.run(todo) if todo else {}
    failed = [s for s, r in results.items() if isinstance(r, Exception)]
    for s in failed:
        print(f"seed {s}: {results[s]}", file=sys.stderr)
    ok = [s for s in seeds if s not in failed]
    if not ok:
        raise CheckFailed("every seed failed its probe quality gate", path=args.output)
    doc = aggregate_runs(
        [args.output / f"seed_{s}" for s in ok], include_smoke=bool(args.smoke), policy=policy
    )
    write_aggregate(args.output, doc)
    best = doc["summary"][BEST_COMPRESSION]
    print(
        f"aggregate over seeds {doc['seeds']}: power {doc['summary']['statistical_power']}, "
        f"best {best.get('variant') or 'none'}; wrote {args.output / AGGREGATE_JSON}",
        file=sys.stderr,
    )
    if failed:
        raise CheckFailed(
            f"seed(s) {', '.join(map(str, failed))} failed the probe quality gate",
            path=args.output,
            hint="the aggregate covers the other seeds only",
        )
    if args.require_pass and not best:
        raise CheckFailed("no compression passed the policy", path=args.output / AGGREGATE_JSON)
    return 0


def _finished(path: Path) -> bool:
    from rankbench.io import read_json

    if not (path / BENCH_JSON).is_file():
        return False
    doc = read_json(path / BENCH_JSON)
    status = doc.get("protocol_invariants", {}).get("compression_validation", {}).get("status")
    return status == "COMPLETED"
