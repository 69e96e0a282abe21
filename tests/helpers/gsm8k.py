"""Where the tests find GSM8K: the full copy in ../shared/data/gsm8k, else the excerpt in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FULL_DIR = TESTS.parents[1] / "shared" / "data" / "gsm8k"
EXCERPT_DIR = TESTS / "data" / "gsm8k"
FULL_SIZES = {"train": 7473, "test": 1319}


def gsm8k_dir() -> Path:
    """The full copy when it is beside the checkout, else the shipped excerpt (always present)."""
    return FULL_DIR if FULL_DIR.is_dir() else EXCERPT_DIR


def has_full_copy() -> bool:
    return FULL_DIR.is_dir()


def read_split(split: str, folder: Path | None = None) -> list[dict]:
    lines = ((folder or gsm8k_dir()) / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def row(split: str, index: int) -> dict:
    """Row ``index`` (0-based, of the full split) from the full copy or from the excerpt."""
    if has_full_copy():
        return read_split(split)[index]
    for r in read_split(split, EXCERPT_DIR):
        if r["source_row"] == index:
            return r
    raise KeyError(f"row {index} of GSM8K {split} is not in the excerpt {EXCERPT_DIR}")
