"""Build the inputs of the lm-eval fixtures in this folder (see README.md for the full recipe).

    python make_fixtures.py models WORK          # tiny random Llama + char tokenizer, a LoRA r=8 on it
    python make_fixtures.py data WORK            # the two task files, placeholder answers
    python make_fixtures.py data WORK --from RUN  # answers from a first lm-eval run of the base model

Run with rankbench's test environment (torch, transformers, peft, and tests/ importable). Everything is
seeded; lm-eval itself runs in a separate scratch environment.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_ITEMS = 28
INIT_SCALE = 0.3  # the base model's init std: larger makes its answers depend on the question
B_SCALE = 0.5  # lora_B is multiplied by this
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def build_models(work: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    sys.path.insert(0, str(HERE.parents[1]))  # tests/
    from helpers.tiny_llama import save_tiny_llama

    base = save_tiny_llama(work / "base", seed=0, init_scale=INIT_SCALE)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    torch.manual_seed(1)
    cfg = LoraConfig(
        r=8, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():  # random A and B (init_lora_weights=False), scaled so some answers flip, not all
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.mul_(B_SCALE)
    peft_model.save_pretrained(work / "adapter_r8")


def _word(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi)))


def _samples(run: Path, task: str) -> list[dict]:
    (path,) = sorted(run.rglob(f"samples_{task}_*.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _mc_gold(run: Path | None, rng: random.Random) -> dict[int, int]:
    """Two items in three get the base model's most likely choice as gold, the rest another choice."""
    if run is None:
        return {}
    gold = {}
    for s in _samples(run, "rb_mc"):
        lls = [float(r[0][0]) for r in s["resps"]]  # lm-eval logs them as strings
        best = max(range(len(lls)), key=lls.__getitem__)
        i = s["doc_id"]
        gold[i] = best if i % 3 else rng.choice([k for k in range(len(lls)) if k != best])
    return gold


def _gen_answer(run: Path | None, rng: random.Random) -> dict[int, str]:
    """Answer = the base model's first generated character (i % 3 == 0), its last (i % 3 == 1), or random."""
    if run is None:
        return {}
    seen: dict[int, dict[str, str]] = {}
    for s in _samples(run, "rb_gen"):
        seen.setdefault(s["doc_id"], {})[s["filter"]] = s["filtered_resps"][0]
    out = {}
    for i, by_filter in seen.items():
        pick = {0: "first-char", 1: "last-char"}.get(i % 3)
        value = by_filter.get(pick, "[invalid]") if pick else "[invalid]"
        out[i] = value if len(value) == 1 else rng.choice(LETTERS)
    return out


def write_data(work: Path, run: Path | None) -> None:
    rng = random.Random(13)
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    gold, answer = _mc_gold(run, random.Random(7)), _gen_answer(run, random.Random(8))
    mc, gen = [], []
    for i in range(N_ITEMS):
        choices = [_word(rng, 3, 4) for _ in range(3)]  # similar lengths: the question matters
        mc.append({"question": _word(rng, 3, 8), "choices": choices, "gold": gold.get(i, rng.randrange(3))})
        gen.append({"question": _word(rng, 3, 8), "answer": answer.get(i, rng.choice(LETTERS))})
    for name, rows in (("rb_mc", mc), ("rb_gen", gen)):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=("models", "data"))
    ap.add_argument("work", type=Path)
    ap.add_argument("--from", dest="run", type=Path, help="a first lm-eval run of the base model")
    args = ap.parse_args()
    if args.step == "models":
        build_models(args.work)
    else:
        write_data(args.work, args.run)


if __name__ == "__main__":
    main()
