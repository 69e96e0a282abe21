"""Deterministic splits, a tokenisation cache on disk, and length-bucketed batches.

Splits depend only on (number of rows, seed, sizes): the eval items of a seed are the same for every
variant, so the paired statistics compare like with like. Tokenised ids are cached under
``cache_dir`` keyed by sha256(tokenizer files, texts, max_length); a second bench with the same data
skips the tokenizer entirely. Batches are bucketed by length (shuffle, sort within chunks, pad each
batch to its own longest sequence, shuffle the batch order), which on short texts cuts the padded
tokens a step processes by about half compared with random batches padded to ``max_length``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rankbench.errors import RankbenchError

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "added_tokens.json",
)


# --- splits -------------------------------------------------------------------------------------


def split_items(
    n_rows: int, *, seed: int, eval_size: int, train_size: int | None = None, source: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, eval_idx): disjoint row indices, a function of (n_rows, seed, sizes) only.

    The eval set is the first ``eval_size`` rows of a seeded permutation, so it does not depend on
    ``train_size``; it is returned sorted (records follow dataset order). Train indices keep the
    permutation's order. ``train_size=None`` takes every row not in eval.
    """
    need = eval_size + (train_size or 1)
    if n_rows < need:
        what = (
            f"eval_size {eval_size} + train_size {train_size}" if train_size else f"eval_size {eval_size} + 1"
        )
        raise RankbenchError(
            f"the dataset has {n_rows} rows, fewer than needed ({what} = {need})",
            path=source,
            hint="lower task.eval_size / task.train_size, or use a larger dataset",
        )
    perm = np.random.default_rng(seed).permutation(n_rows)
    eval_idx = np.sort(perm[:eval_size])
    rest = perm[eval_size:]
    train_idx = rest if train_size is None else rest[:train_size]
    return train_idx.astype(np.int64), eval_idx.astype(np.int64)


def sample_items(n_rows: int, k: int | None, *, seed: int, source: str | None = None) -> np.ndarray:
    """``k`` sorted row indices drawn with ``seed`` (all rows when k is None): for a separate eval split."""
    if k is None:
        return np.arange(n_rows, dtype=np.int64)
    if n_rows < k:
        raise RankbenchError(
            f"the split has {n_rows} rows, fewer than the {k} requested",
            path=source,
            hint="lower task.eval_size / task.train_size, or use a larger split",
        )
    # a different stream from split_items' so that train and eval draws are independent
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.permutation(n_rows)[:k]).astype(np.int64)


# --- tokenisation cache -------------------------------------------------------------------------


def tokenizer_fingerprint(folder: str | Path) -> str:
    """sha256 over the tokenizer files a folder has (name + bytes), in a fixed order."""
    h = hashlib.sha256()
    found = 0
    for name in TOKENIZER_FILES:
        p = Path(folder) / name
        if p.is_file():
            found += 1
            h.update(name.encode() + b"\0" + p.read_bytes() + b"\0")
    if not found:
        raise RankbenchError(
            "no tokenizer files found", path=folder, hint="save the tokenizer next to the model"
        )
    return h.hexdigest()


def texts_cache_key(fingerprint: str, texts: Sequence[str], max_length: int, extra: str = "") -> str:
    h = hashlib.sha256(f"{fingerprint}\0{max_length}\0{extra}\0{len(texts)}\0".encode())
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


@dataclass
class TokenizedTexts:
    """Token ids of many texts, packed: ``flat[offsets[i]:offsets[i+1]]`` is text i (int32)."""

    flat: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (n + 1,) int64
    cache_hit: bool
    key: str

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def cached_tokenize(
    encode: Callable[[list[str]], list[list[int]]],
    texts: Sequence[str],
    *,
    fingerprint: str,
    max_length: int,
    cache_dir: str | Path | None,
    extra: str = "",
) -> TokenizedTexts:
    """Token ids for ``texts`` from the cache, or from ``encode`` (then cached). ``cache_dir=None``: no cache.

    ``encode`` maps a list of texts to lists of ids already truncated to ``max_length``; ``extra``
    names anything else that changes its output (e.g. a template), so that it is part of the key.
    """
    key = texts_cache_key(fingerprint, texts, max_length, extra)
    stem = None if cache_dir is None else Path(cache_dir) / f"tok-{key[:32]}"
    if stem is not None:
        hit = _read_cache(stem, len(texts))
        if hit is not None:
            return TokenizedTexts(hit[0], hit[1], cache_hit=True, key=key)
    ids = encode(list(texts))
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1]))
    if stem is not None:
        _write_cache(stem, flat, offsets)
    return TokenizedTexts(flat, offsets, cache_hit=False, key=key)


def _read_cache(stem: Path, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    ids_p, off_p = stem.with_suffix(".ids.npy"), stem.with_suffix(".offsets.npy")
    if not (ids_p.is_file() and off_p.is_file()):
        return None
    try:
        offsets = np.load(off_p)
        flat = np.load(ids_p)
    except (OSError, ValueError):  # a damaged entry is rebuilt, never trusted
        return None
    if offsets.shape != (n + 1,) or flat.dtype != np.int32 or int(offsets[-1]) != flat.shape[0]:
        return None
    return flat, offsets


def _write_cache(stem: Path, flat: np.ndarray, offsets: np.ndarray) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    # ids first, offsets last: an entry is complete once its offsets file exists
    for suffix, arr in ((".ids.npy", flat), (".offsets.npy", offsets)):
        final = stem.with_suffix(suffix)
        tmp = final.with_name(f"{final.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, arr)
        os.replace(tmp, final)


# --- batches ------------------------------------------------------------------------------------


def bucketed_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, chunk_batches: int = 50):
    """Batches of indices: shuffle, sort each chunk of ``chunk_batches`` batches by length, cut into
    batches, shuffle the batch order. Every index appears exactly once."""
    perm = rng.permutation(len(lengths))
    chunk = batch_size * chunk_batches
    batches = []
    for start in range(0, len(perm), chunk):
        part = perm[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_batch(seqs: Sequence[np.ndarray], pad_id: int, *, side: str = "right"):
    """(input_ids, attention_mask) int64 tensors of shape (batch, longest) from int id arrays."""
    longest = max(len(s) for s in seqs)
    ids = np.full((len(seqs), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), longest), dtype=np.int64)
    for row, s in enumerate(seqs):
        if side == "right":
            ids[row, : len(s)] = s
            mask[row, : len(s)] = 1
        else:
            ids[row, longest - len(s) :] = s
            mask[row, longest - len(s) :] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


class BucketedBatches:
    """Length-bucketed training batches; each pass (``iter()``) is a new epoch with a new order.

    ``make_batch(indices) -> dict of tensors`` builds one batch from positions into ``lengths``.
    Iterating is cheap: orders are drawn from ``default_rng([seed, epoch])``, so the batch sequence is a
    function of the seed alone, and a training loop that cycles the data sees a fresh shuffle per epoch.
    """

    def __init__(
        self, lengths: np.ndarray, batch_size: int, *, seed: int, make_batch, chunk_batches: int = 50
    ):
        if len(lengths) == 0:
            raise RankbenchError("no training items", hint="check task.train_size and the dataset")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.make_batch = make_batch
        self.chunk_batches = chunk_batches
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        for idx in bucketed_order(self.lengths, self.batch_size, rng, self.chunk_batches):
            yield self.make_batch(idx)


def eval_order(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Eval batches of positions, longest first (a batch that does not fit fails at once, not at the end)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
