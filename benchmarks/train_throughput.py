"""Training throughput of rankbench's run_training against a bare PEFT + torch loop, same batches.

The embedded default: MiniLM-L6 + LoRA r=16 on query,key,value,dense (+ the classifier head), Rotten
Tomatoes tokenised to max_length 64, length-bucketed batches of 16. Both loops get the same pre-built
batches and the same number of steps from the same initial weights; they alternate (ours, bare, ours,
bare, ...) so that load from other processes hits both alike. A third row, the bare loop on random
batches padded to max_length, shows what the data path (bucketing) buys. A last table times
evaluation (inference_mode, batches sorted by length).

    python benchmarks/train_throughput.py [--steps 30] [--repeats 3] [--eval-items 1000]

Prints the thread settings and the load average: on a shared 2-core machine the wall numbers move
with other processes; CPU seconds per step move less.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Before torch starts its OpenMP pool: the same spin-or-sleep choice as the CLI (rankbench.threads).
from rankbench.threads import choose_wait_policy, set_torch_threads  # noqa: E402

choose_wait_policy()  # as the CLI does, before torch starts its pool

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rankbench.bench.config import load_config  # noqa: E402
from rankbench.bench.data import bucketed_order, pad_batch  # noqa: E402
from rankbench.bench.profiles.seqcls import SeqClsProfile  # noqa: E402
from rankbench.bench.profiles.seqcls_eval import predict  # noqa: E402
from rankbench.bench.profiles.seqcls_model import load_base  # noqa: E402
from rankbench.bench.train import run_training  # noqa: E402

CPU = torch.device("cpu")


def build_batches(
    split, pad: int, batch_size: int, steps: int, *, bucketed: bool, max_length: int
) -> list[dict]:
    rng = np.random.default_rng(0)
    if bucketed:
        order = bucketed_order(split.lengths, batch_size, rng)[:steps]
    else:
        perm = rng.permutation(len(split.ids))
        order = [perm[i * batch_size : (i + 1) * batch_size] for i in range(steps)]
    batches = []
    for idx in order:
        seqs = [split.ids[i] for i in idx]
        if not bucketed:  # the naive path: every batch padded to max_length
            seqs = [np.pad(s, (0, max_length - len(s)), constant_values=pad) for s in seqs]
        ids, mask = pad_batch(seqs, pad)
        batches.append(
            {"input_ids": ids, "attention_mask": mask, "labels": torch.from_numpy(split.labels[idx])}
        )
    return batches


def bare_loop(model, batches, lr: float) -> None:
    """What a user writes by hand: AdamW over the trainable parameters, nothing else."""
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    for batch in batches:
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)


def ours(model, batches, lr: float) -> None:
    run_training(
        model,
        batches,
        steps=len(batches),
        learning_rate=lr,
        weight_decay=0.0,
        warmup_ratio=0.06,
        max_grad_norm=1.0,
        device=CPU,
        seed=0,
    )


def timed(fn, model, batches, lr) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(model, batches, lr)
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-items", type=int, default=1000)
    ap.add_argument("--no-padded", action="store_true", help="skip the padded-to-max_length row")
    args = ap.parse_args(argv)

    threads = set_torch_threads()
    print(f"threads: {threads}", file=sys.stderr)
    cfg = load_config(None, {"train.batch_size": args.batch_size})
    profile = SeqClsProfile()
    cache = Path(tempfile.gettempdir()) / "rankbench-bench-cache"
    data = profile.prepare(cfg, seed=0, cache_dir=cache)
    pad = data.extra["pad_token_id"]
    print(
        f"data: {data.provenance['split_sizes']}, mean tokens {data.extra['mean_tokens']:.1f}",
        file=sys.stderr,
    )

    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(0)
    base, _ = load_base(profile.source(cfg), cfg, data.extra["num_labels"], pad)
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=16, lora_alpha=16, target_modules=["query", "key", "value", "dense"]
    )
    template = get_peft_model(base, lora)
    kw = {"pad": pad, "batch_size": args.batch_size, "steps": args.steps, "max_length": cfg.model.max_length}
    bucketed = build_batches(data.train, bucketed=True, **kw)
    rows = [("ours: run_training", ours, bucketed), ("bare PEFT + AdamW loop", bare_loop, bucketed)]
    if not args.no_padded:
        rows.append(
            ("bare loop, padded to max_length", bare_loop, build_batches(data.train, bucketed=False, **kw))
        )
    lr = cfg.train.learning_rate

    for _, fn, batches in rows:  # warm-up: first calls pay for lazy imports and allocator growth
        fn(copy.deepcopy(template), batches[:3], lr)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in rows}
    for rep in range(args.repeats):
        for name, fn, batches in rows:
            times[name].append(timed(fn, copy.deepcopy(template), batches, lr))
            print(f"repeat {rep}: {name}: {times[name][-1][0]:.1f} s", file=sys.stderr, flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\ntraining: {args.steps} steps x batch {args.batch_size}, median of {args.repeats}, load avg {load:.2f}"
    )
    bare_sps = args.steps / statistics.median(w for w, _ in times["bare PEFT + AdamW loop"])
    print(f"{'loop':34} {'wall s':>7} {'cpu s':>7} {'steps/s':>8} {'ex/s':>7} {'vs bare':>8}")
    for name, _, batches in rows:
        wall = statistics.median(w for w, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        ex = sum(b["labels"].shape[0] for b in batches)
        sps = args.steps / wall
        print(f"{name:34} {wall:7.2f} {cpu:7.2f} {sps:8.2f} {ex / wall:7.1f} {sps / bare_sps:8.3f}")
    tokens = [int(b["attention_mask"].sum()) for b in bucketed]
    padded = [b["attention_mask"].numel() for b in bucketed]
    print(f"bucketed batches: {sum(tokens) / sum(padded):.1%} of the padded tokens are real")

    if args.eval_items:
        eval_speed(template, data, cfg, args.eval_items, pad)


def eval_speed(model, data, cfg, n_items: int, pad: int) -> None:
    """Unmerged (LoRA matmuls at every layer) against merged, which is what SeqClsProfile.evaluate runs."""
    from dataclasses import replace

    split = data.eval
    n = min(n_items, len(split.ids))
    sub = replace(split, ids=split.ids[:n], labels=split.labels[:n], item_ids=split.item_ids[:n])
    merged = copy.deepcopy(model).merge_and_unload().eval()
    model.eval()
    print(f"\nevaluation: {n} items, inference_mode, length-sorted batches")
    print(f"{'model':10} {'batch':>6} {'wall s':>7} {'cpu s':>7} {'s per 1000 items':>17}")
    for name, m, batch_size in (("unmerged", model, 32), ("unmerged", model, 128), ("merged", merged, 128)):
        predict(m, replace(sub, ids=sub.ids[:batch_size]), pad, batch_size, CPU, cfg)  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        predict(m, sub, pad, batch_size, CPU, cfg)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{name:10} {batch_size:6d} {wall:7.2f} {cpu:7.2f} {wall / n * 1000:17.2f}")


if __name__ == "__main__":
    main()
