"""What the bench costs beyond training the probe.

Runs, in one process and on the same data, three protocols on the embedded default (MiniLM + Rotten
Tomatoes) or a config you give:

1. the probe alone (a bench with no variants: load, train, evaluate): the baseline;
2. the full bench with every variant made by ``truncate`` (the audit, the plans, 5 variants, 5 evals);
3. retrain-everything: every variant trained from scratch at its plan's ranks.

and prints the wall time of each and the overhead over the probe. Target: truncate variants add at most
25% to the probe's cost. Thread pools are pinned (OMP/MKL/OpenBLAS and torch) and printed.

    python benchmarks/bench_cost.py [--steps 300] [--eval-size 2000] [--config my.yaml]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rankbench.threads import choose_wait_policy, pin_pools_for_bench

WAIT = choose_wait_policy()  # as the CLI does, before torch starts its OpenMP pool
THREADS = pin_pools_for_bench()


def run(config: Path | None, overrides: dict, out: Path, cache: Path) -> tuple[float, dict]:
    from rankbench.bench.config import load_config
    from rankbench.bench.progress import Progress
    from rankbench.bench.protocol import BenchRun
    from rankbench.bench.runstate import RunDir
    from rankbench.runner.seed import run_bench

    cfg = load_config(config, overrides)
    rd = RunDir(out)
    rd.claim(cfg.experiment_dict(), cfg.config_hash())
    t0 = time.perf_counter()
    doc = run_bench(BenchRun(cfg=cfg, run=rd, cache_dir=cache, progress=Progress(quiet=True)))
    return time.perf_counter() - t0, doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--steps", type=int, default=None, help="override train.steps")
    ap.add_argument("--eval-size", type=int, default=None, help="override task.eval_size")
    ap.add_argument("--skip-retrain", action="store_true", help="skip the retrain-everything protocol")
    args = ap.parse_args()
    import torch

    base: dict = {}
    if args.steps:
        base["train.steps"] = args.steps
    if args.eval_size:
        base["task.eval_size"] = args.eval_size
    variants = ["uniform_median", "uniform_p90", "per_layer", "per_layer_shuffled", "random_subspace"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        # warm the token cache so that no protocol pays for tokenisation
        run(
            args.config,
            {
                **base,
                "compression.variants": ["uniform_median"],
                "compression.methods": {},
                "train.steps": 1,
                "task.probe_gate.min_value": 0.0,  # a 1-step probe only warms the cache
            },
            tmp / "warm",
            cache,
        )
        probe_s, _ = run(
            args.config,
            {**base, "compression.variants": [], "compression.methods": {}},
            tmp / "probe_only",
            cache,
        )
        truncate_s, doc = run(
            args.config,
            {**base, "compression.variants": variants, "compression.methods": {}},
            tmp / "truncate",
            cache,
        )
        t = doc["timings"]
        rows = [("probe alone (load, train, eval)", probe_s, 1.0)]
        rows.append(("bench, truncate variants", truncate_s, truncate_s / probe_s))
        retrain_s = None
        if not args.skip_retrain:
            retrain_s, _ = run(
                args.config,
                {
                    **base,
                    "compression.variants": variants[:3],
                    "compression.default_method": "retrain",
                    "compression.methods": {},
                },
                tmp / "retrain",
                cache,
            )
            rows.append(("bench, retrain variants (3)", retrain_s, retrain_s / probe_s))
    print(f"threads: {THREADS} torch={torch.get_num_threads()}  cpu_count={os.cpu_count()}")
    print(f"OpenMP wait: {WAIT}")
    print(
        f"model {doc['model']}, {doc['probe']['n_eval_items']} eval items, "
        f"{doc['config_metadata']['resolved_config']['train']['steps']} steps"
    )
    print(f"{'protocol':<32} {'wall s':>8} {'x probe':>8}")
    for name, secs, ratio in rows:
        print(f"{name:<32} {secs:8.1f} {ratio:8.2f}")
    overhead = truncate_s / probe_s - 1
    print(
        f"truncate variants add {overhead:.1%} to the probe's cost (target <= 25%): "
        f"{'MET' if overhead <= 0.25 else 'NOT MET'}"
    )
    # the same within the one bench run, free of the noise between two probe trainings
    added = sum(v for k, v in t.items() if k not in ("probe_train", "probe_eval", "total"))
    print(
        f"within the bench run: stages after the probe {added:.1f} s = "
        f"{added / (t['probe_train'] + t['probe_eval']):.1%} of probe_train + probe_eval"
    )
    print("per stage (s): " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
