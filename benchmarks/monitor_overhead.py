"""Overhead of SpectrumMonitorCallback on the embedded default bench configuration, in one run.

MiniLM-L6 + LoRA at lora.probe_r on the profile's default targets (+ the classifier head), Rotten
Tomatoes at max_length 64, batches of train.batch_size, trained by transformers.Trainer for a fixed
number of steps: without the callback, with it at the default frequency, and with it at every step.
The three alternate within each round (none, default, every step, none, ...) so that load from other
processes on a shared machine hits all alike; the table reports medians over the rounds of the
Trainer's own train_runtime. A second table times one sample directly (reading every module's
factors and computing its exact spectrum), which is what the overhead is made of.

    python benchmarks/monitor_overhead.py [--steps 50] [--rounds 3]

Threads are pinned as the bench pins them (torch: the usable CPUs, BLAS: 1 thread for the sample).
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rankbench.threads import choose_wait_policy, set_torch_threads  # noqa: E402

choose_wait_policy()  # as the CLI does, before torch starts its pool

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from rankbench.bench.config import load_config  # noqa: E402
from rankbench.bench.data import pad_batch  # noqa: E402
from rankbench.bench.profiles.seqcls import SeqClsProfile  # noqa: E402
from rankbench.bench.profiles.seqcls_model import extra_head_modules, load_base  # noqa: E402
from rankbench.monitor import DEFAULT_EVERY_N_STEPS  # noqa: E402
from rankbench.monitor.core import measure  # noqa: E402


def build_model(cfg, profile, data):
    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(0)
    pad = data.extra["pad_token_id"]
    base, missing = load_base(profile.source(cfg), cfg, data.extra["num_labels"], pad)
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=cfg.lora.probe_r, lora_alpha=cfg.lora.probe_r,
                      target_modules=profile.default_target_modules(cfg),
                      modules_to_save=extra_head_modules(missing) or None)  # fmt: skip
    return get_peft_model(base, lora)


def train_once(template, data, cfg, steps: int, every: int | None, out: Path) -> tuple[float, float]:
    """(wall seconds of Trainer.train's loop, CPU seconds of this process during train())."""
    from transformers import PrinterCallback, Trainer, TrainingArguments

    from rankbench.integrations.transformers import SpectrumMonitorCallback

    split, pad = data.train, data.extra["pad_token_id"]
    rows = [
        {"ids": split.ids[i], "labels": int(split.labels[i])} for i in range(steps * cfg.train.batch_size)
    ]

    def collate(batch):
        ids, mask = pad_batch([b["ids"] for b in batch], pad)
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": torch.tensor([b["labels"] for b in batch]),
        }

    args = TrainingArguments(output_dir=str(out), max_steps=steps, per_device_train_batch_size=cfg.train.batch_size,
                             learning_rate=cfg.train.learning_rate, logging_steps=10, save_strategy="no",
                             report_to=[], use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0,
                             remove_unused_columns=False)  # fmt: skip
    callbacks = [] if every is None else [SpectrumMonitorCallback(every_n_steps=every, final_audit=False)]
    trainer = Trainer(model=copy.deepcopy(template), args=args, train_dataset=rows, data_collator=collate,
                      callbacks=callbacks)  # fmt: skip
    trainer.remove_callback(PrinterCallback)  # the log lines are not the point
    cpu = time.process_time()
    wall = trainer.train().metrics["train_runtime"]
    return wall, time.process_time() - cpu


def sample_cost(model, repeats: int) -> tuple[float, int]:
    with threadpool_limits(limits=1, user_api="blas"):
        measure(model)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            audits, _ = measure(model)
            times.append(time.perf_counter() - t)
    return statistics.median(times), len(audits)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--every", type=int, default=DEFAULT_EVERY_N_STEPS, help="the frequency to compare")
    args = ap.parse_args(argv)
    logging.getLogger("rankbench.monitor").setLevel(logging.ERROR)  # the callback's lines are not the point
    threads = set_torch_threads()
    print(f"threads: {threads}", file=sys.stderr)
    cfg = load_config(None, {})
    profile = SeqClsProfile()
    data = profile.prepare(cfg, seed=0, cache_dir=Path(tempfile.gettempdir()) / "rankbench-bench-cache")
    template = build_model(cfg, profile, data)
    variants = [("no callback", None), (f"every {args.every} steps (default)", args.every), ("every step", 1)]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for _, every in variants:  # lazy imports, allocator growth, first-call costs of each path
            train_once(template, data, cfg, 5, every, Path(tmp) / "warm")
        for rnd in range(args.rounds):
            for name, every in variants:
                times[name].append(
                    train_once(template, data, cfg, args.steps, every, Path(tmp) / f"{rnd}{every}")
                )
                wall, cpu = times[name][-1]
                print(f"round {rnd}: {name}: {wall:.1f} s, cpu {cpu:.1f} s", file=sys.stderr, flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    base = {i: statistics.median(t[i] for t in times["no callback"]) for i in (0, 1)}
    print(f"\nTrainer, {args.steps} steps x batch {cfg.train.batch_size}, median of {args.rounds} rounds, "
          f"load avg {load:.2f}")  # fmt: skip
    print(f"{'run':28} {'wall s':>7} {'ms/step':>8} {'overhead':>9} {'cpu s':>7} {'cpu overhead':>13}")
    for name, _ in variants:
        wall, cpu = (statistics.median(t[i] for t in times[name]) for i in (0, 1))
        print(f"{name:28} {wall:7.2f} {1000 * wall / args.steps:8.1f} {100 * (wall / base[0] - 1):8.1f}% "
              f"{cpu:7.2f} {100 * (cpu / base[1] - 1):12.1f}%")  # fmt: skip
    print(
        "each round (wall s): "
        + "; ".join(f"{k}: " + " ".join(f"{w:.1f}" for w, _ in v) for k, v in times.items())
    )
    base = base[0]
    cost, n = sample_cost(template, 20)
    step_ms = 1000 * base / args.steps
    print(f"\none sample, measured alone: {1000 * cost:.1f} ms for {n} modules (r={cfg.lora.probe_r}), "
          f"{100 * 1000 * cost / step_ms:.2f}% of a {step_ms:.0f} ms step")  # fmt: skip
    print(f"{'every N steps':>14} {'expected overhead':>18}")
    for every in (1, 5, 10, 25, 50, 100):
        print(f"{every:14d} {100 * 1000 * cost / (every * step_ms):17.2f}%")


if __name__ == "__main__":
    main()
