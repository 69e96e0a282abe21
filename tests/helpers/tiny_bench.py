"""A tiny bench world for end-to-end tests: a 2-layer random BERT folder with a word-level tokenizer,
a synthetic sentiment CSV it can learn in a few dozen steps, and a config that runs in seconds."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

POSITIVE = ["good", "great", "fine", "superb", "lovely"]
NEGATIVE = ["bad", "awful", "poor", "dull", "boring"]
FILLER = ["the", "movie", "film", "was", "is", "a", "plot", "acting", "very", "and", "it", "story"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TARGETS = ["query", "key", "value", "dense"]


def make_tiny_bert(folder: Path, seed: int = 0, dropout: float = 0.1) -> Path:
    """A 2-layer BertModel (random weights, hidden 32) + a BertTokenizerFast, saved like a hub folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIAL + POSITIVE + NEGATIVE + FILLER)}
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    BertTokenizerFast(vocab=vocab).save_pretrained(folder)
    return folder


def make_sentiment_csv(path: Path, n: int, seed: int = 0, labels=("neg", "pos"), filler=(2, 10)) -> Path:
    """Short 'reviews': filler words plus one sentiment word that decides the label."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for _ in range(n):
        y = rng.random() < 0.5
        words = rng.choices(FILLER, k=rng.randint(*filler)) + [rng.choice(POSITIVE if y else NEGATIVE)]
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{labels[int(y)]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_bench_config(root: Path, **sections) -> Path:
    """Write a config for the tiny world under root; keyword sections are merged over the defaults."""
    model = root / "tiny-bert"
    if not model.exists():
        make_tiny_bert(model)
    csv = root / "sentiment.csv"
    if not csv.exists():
        make_sentiment_csv(csv, 700)
    cfg = {
        "model": {"name": str(model), "max_length": 16},
        "task": {"dataset": str(csv), "eval_size": 300, "probe_gate": {"min_value": 0.6}},
        "lora": {"probe_r": 8, "alpha": 16, "target_modules": TARGETS},
        "train": {"steps": 200, "batch_size": 16, "learning_rate": 5e-3},
        "compression": {
            "methods": {"uniform_median": ["truncate", "retrain", "truncate+finetune"]},
            "finetune_steps": 5,
        },
        "eval": {"batch_size": 64, "tolerance": 0.05},
    }
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = root / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def train_user_adapter(folder: Path, model: Path, csv: Path, *, steps: int = 150, r: int = 8,
                       labels=("neg", "pos"), seed: int = 0) -> Path:  # fmt: skip
    """An adapter as a user trains one elsewhere: plain PEFT and a bare torch loop on ``csv``, no
    rankbench code. Class i is ``labels[i]``; the adapter is saved with ``save_pretrained``."""
    import csv as csv_module

    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    with open(csv, newline="") as f:
        rows = list(csv_module.DictReader(f))
    tok = AutoTokenizer.from_pretrained(str(model))
    base = AutoModelForSequenceClassification.from_pretrained(str(model), num_labels=len(labels))
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=2 * r, target_modules=TARGETS)
    peft_model = get_peft_model(base, config)
    opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=5e-3)
    peft_model.train()
    rng = random.Random(seed)
    for _ in range(steps):
        batch = rng.sample(rows, 16)
        enc = tok(
            [b["text"] for b in batch], padding=True, truncation=True, max_length=16, return_tensors="pt"
        )
        y = torch.tensor([labels.index(b["label"]) for b in batch])
        loss = peft_model(**enc, labels=y).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    peft_model.save_pretrained(str(folder))
    return folder
