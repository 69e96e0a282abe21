"""A tiny world for the lm-eval evaluator's tests: a random Llama folder and LoRA adapters saved on it.

The base is the character-level Llama of ``test_causal_lm_tiny`` (its tokenizer works offline); the
adapters are random (``init_lora_weights=False``) and scaled so that they move some answers of the
lm-eval fixture tasks (``tests/data/lm_eval/tasks``), like the compare fixtures were made.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TARGETS = ["q_proj", "v_proj", "o_proj"]


@dataclass(frozen=True)
class World:
    base: Path
    r8: Path  # LoRA r=8
    r8_other: Path  # another LoRA r=8, same config, other weights (swapped in place)
    r2: Path  # r8 truncated to rank 2 by `rankbench compress`
    patterned: Path  # r=8 with rank_pattern {o_proj: 4} and alpha_pattern {v_proj: 3}


def _adapter(base: Path, out: Path, *, seed: int, r: int = 8, b_scale: float = 0.5, **extra) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    torch.manual_seed(seed)
    cfg = LoraConfig(r=r, lora_alpha=r, target_modules=TARGETS, init_lora_weights=False, **extra)
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.mul_(b_scale)
    peft_model.save_pretrained(out)
    return out


def build_world(root: Path) -> World:
    from rankbench.cli import main
    from test_causal_lm_tiny import save_tiny_llama

    base = save_tiny_llama(root / "base", seed=0, init_scale=0.3)
    r8 = _adapter(base, root / "adapter_r8", seed=1)
    other = _adapter(base, root / "adapter_r8_other", seed=2)
    r2 = root / "adapter_r2"
    assert main(["compress", str(r8), "--plan", "rank:2", "--out", str(r2), "--quiet"]) == 0
    patterned = _adapter(base, root / "adapter_patterned", seed=3, rank_pattern={"o_proj": 4},
                         alpha_pattern={"v_proj": 3})  # fmt: skip
    return World(base, r8, other, r2, patterned)


FIXTURES = Path(__file__).resolve().parents[1] / "data" / "lm_eval"


@contextmanager
def running_in_fixtures():
    """The task YAMLs name their data files relative to the folder lm-eval runs in (lm-eval's rule)."""
    here = os.getcwd()
    os.chdir(FIXTURES)
    try:
        yield FIXTURES
    finally:
        os.chdir(here)


def lm_eval_samples(base: Path, adapter: Path, out: Path, tasks: tuple[str, ...], limit: int | None = None):
    """lm-eval's own CLI run of one adapter folder: {task: rows of its samples file} read as plain JSON."""
    from lm_eval.__main__ import cli_evaluate

    argv = ["lm_eval", "--model", "hf", "--model_args", f"pretrained={base},peft={adapter},dtype=float32",
            "--tasks", ",".join(tasks), "--include_path", "tasks", "--device", "cpu", "--batch_size", "8",
            "--log_samples", "--output_path", str(out)]  # fmt: skip
    if limit is not None:
        argv += ["--limit", str(limit)]
    saved = sys.argv
    sys.argv = argv
    try:
        cli_evaluate()
    finally:
        sys.argv = saved
    found = {}
    for task in tasks:
        (path,) = out.rglob(f"samples_{task}_*.jsonl")
        found[task] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found
