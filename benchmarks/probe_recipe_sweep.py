"""Sweep the default probe's training recipe: probe accuracy and training time per recipe and seed.

Each cell is a probe-only bench (load, train, evaluate on the default's 2,000 held-out items; no
variants) on the embedded default, with the recipe's config overrides on top of the defaults. The
recipe named ``default`` (no overrides) is the baseline and runs in the same sweep, so every row can be
read against it. Cells run in subprocesses, ``--jobs`` at a time with ``--threads`` torch threads each;
results are appended to ``--out`` (JSONL) as each cell finishes, and cells already there are skipped,
so an interrupted sweep resumes.

    python benchmarks/probe_recipe_sweep.py --seeds 42,43,44 --jobs 2 --threads 1 \
        --recipe 'lr2e-3={"train.learning_rate": 0.002}' --out sweep.jsonl

An override ``x.base_dropout`` (not a config key) sets the p of every dropout layer of the base model
before PEFT wraps it, to try training without the checkpoint's own dropout.

Accuracy does not depend on the machine's load; the seconds do (say what else ran when you quote
them). Prints a table: recipe, seed, accuracy, Δ against the default on the same seed, train seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CELL = r"""
import json, sys, time
from pathlib import Path
from rankbench.threads import choose_wait_policy
choose_wait_policy()
from rankbench.bench.config import load_config
from rankbench.bench.progress import Progress
from rankbench.bench.protocol import BenchRun
from rankbench.runner.seed import run_bench
from rankbench.bench.runstate import RunDir
overrides, out, cache = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
base_dropout = overrides.pop("x.base_dropout", None)  # an experiment, not a config key: the base's dropout
if base_dropout is not None:
    import torch
    from rankbench.bench.profiles import seqcls
    _load = seqcls.load_base
    def load_base(*a, **k):
        model, missing = _load(*a, **k)
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):  # the base's only: PEFT wraps the model after this
                m.p = base_dropout
        return model, missing
    seqcls.load_base = load_base
cfg = load_config(None, {**overrides, "compression.variants": [], "compression.methods": {}})
rd = RunDir(out)
rd.claim(cfg.experiment_dict(), cfg.config_hash())
t0 = time.perf_counter()
doc = run_bench(BenchRun(cfg=cfg, run=rd, cache_dir=cache, progress=Progress(quiet=True)))
probe = doc["probe"]
print(json.dumps({"accuracy": probe["accuracy"], "n_eval": probe["n_eval_items"],
                  "train_s": doc["timings"]["probe_train"], "wall_s": time.perf_counter() - t0}))
"""


def parse_recipe(text: str) -> tuple[str, dict]:
    name, _, overrides = text.partition("=")
    if not name or not overrides:
        raise SystemExit(f"--recipe wants NAME=JSON, got {text!r}")
    return name, json.loads(overrides)


def run_cell(recipe: str, overrides: dict, seed: int, threads: int, cache: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                CELL,
                json.dumps({**overrides, "train.seed": seed}),
                f"{tmp}/run",
                str(cache),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"recipe": recipe, "seed": seed, "overrides": overrides, "error": " | ".join(tail)}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"recipe": recipe, "seed": seed, "overrides": overrides, "threads": threads, **result}


def print_table(rows: list[dict]) -> None:
    base = {r["seed"]: r["accuracy"] for r in rows if r["recipe"] == "default" and "accuracy" in r}
    print(f"{'recipe':<28} {'seed':>5} {'accuracy':>9} {'Δ default':>10} {'train s':>8}  overrides")
    for r in sorted(rows, key=lambda r: (r["recipe"] != "default", r["recipe"], r["seed"])):
        if "error" in r:
            print(f"{r['recipe']:<28} {r['seed']:>5}  ERROR {r['error']}")
            continue
        ref = base.get(r["seed"])
        delta = f"{r['accuracy'] - ref:+.4f}" if ref is not None else ""
        print(
            f"{r['recipe']:<28} {r['seed']:>5} {r['accuracy']:9.4f} {delta:>10} {r['train_s']:8.1f}  "
            f"{json.dumps(r['overrides'])}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--recipe", action="append", default=[], help="NAME=JSON overrides; repeatable")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="torch threads per cell")
    ap.add_argument("--out", type=Path, default=Path("probe_sweep.jsonl"))
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rankbench-sweep-cache")
    ap.add_argument("--table-only", action="store_true", help="print the table of --out and exit")
    args = ap.parse_args()

    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    recipes = dict([("default", {})] + [parse_recipe(t) for t in args.recipe])
    seeds = [int(s) for s in args.seeds.split(",")]
    have = {(r["recipe"], r["seed"]) for r in done if "error" not in r}
    todo = [(n, o, s) for s in seeds for n, o in recipes.items() if (n, s) not in have]
    if not args.table_only and todo:
        print(f"{len(todo)} cells to run, {args.jobs} at a time, {args.threads} thread(s) each", flush=True)
        with ThreadPoolExecutor(args.jobs) as pool, args.out.open("a") as sink:
            futures = [pool.submit(run_cell, n, o, s, args.threads, args.cache) for n, o, s in todo]
            for fut in futures:
                row = fut.result()
                row["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                done.append(row)
                print(json.dumps(row), flush=True)
    print_table(done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
