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
