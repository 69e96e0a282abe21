"""Evaluation speed on the embedded default: the two CPU savings side by side with the plain forward.

MiniLM-L6 with a random two-class head on the default's held-out items (2,000), batches sorted by
length. Four ways, alternated round after round so that load from other processes hits all alike:

- plain: the model's own forward, one batch at a time on every thread (what evaluation did before);
- first-token: the last layer for [CLS] only (``profiles/first_token.py``);
- workers: whole batches side by side, one thread each (``bench/batch_workers.py``);
- both: what ``rankbench run`` does now.

Prints seconds per evaluation (median of the rounds) and the share of items whose prediction equals the
plain forward's (the savings change the order of additions only, so this should be 1.0).

    python benchmarks/eval_speed.py [--rounds 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rankbench.threads import choose_wait_policy, pin_pools_for_bench

WAIT = choose_wait_policy()  # as the CLI does, before torch starts its OpenMP pool
THREADS = pin_pools_for_bench()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import numpy as np
    import torch

    from rankbench.bench.config import load_config
    from rankbench.bench.profiles.seqcls import SeqClsProfile
    from rankbench.bench.profiles.seqcls_eval import predict
    from rankbench.bench.profiles.seqcls_model import load_base
    from rankbench.threads import set_torch_threads

    set_torch_threads()
    cfg = load_config(None, {})
    profile = SeqClsProfile()
    with tempfile.TemporaryDirectory() as tmp:
        data = profile.prepare(cfg, seed=42, cache_dir=Path(tmp))
    pad = data.extra["pad_token_id"]
    model, _ = load_base(profile.source(cfg), cfg, data.extra["num_labels"], pad)
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():  # a head that does not answer one class for everything
        model.classifier.weight.normal_(0.0, 0.5)

    cpu = torch.device("cpu")
    ways = {
        "plain": dict(workers=1, first_token=False),
        "first-token": dict(workers=1, first_token=True),
        "workers": dict(workers=None, first_token=False),
        "both": dict(workers=None, first_token=True),
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    preds: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, kw in ways.items():
            t0 = time.perf_counter()
            preds[name], _ = predict(model, data.eval, pad, args.batch_size, cpu, cfg, **kw)
            seconds[name].append(time.perf_counter() - t0)

    load = os.getloadavg()
    print(f"threads: {THREADS} torch={torch.get_num_threads()}  cpu_count={os.cpu_count()}")
    print(f"OpenMP wait: {WAIT}")
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"model {cfg.model.name}, {len(data.eval.ids)} eval items, batch {args.batch_size}, "
        f"{args.rounds} rounds (median)"
    )
    base = statistics.median(seconds["plain"])
    print(f"{'way':<12} {'s / eval':>9} {'x plain':>8} {'same preds':>11}")
    for name in ways:
        med = statistics.median(seconds[name])
        same = float(np.mean(preds[name] == preds["plain"]))
        print(f"{name:<12} {med:9.2f} {med / base:8.2f} {same:11.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
