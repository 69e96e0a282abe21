"""Splits, the tokenisation cache and length-bucketed batches (numpy + torch, no models)."""

from __future__ import annotations

import numpy as np
import pytest

from rankbench.bench.data import (
    BucketedBatches,
    bucketed_order,
    cached_tokenize,
    eval_order,
    pad_batch,
    sample_items,
    split_items,
    texts_cache_key,
    tokenizer_fingerprint,
)
from rankbench.errors import RankbenchError

# --- splits -------------------------------------------------------------------------------------


def test_split_is_deterministic_and_disjoint():
    tr1, ev1 = split_items(1000, seed=7, eval_size=200)
    tr2, ev2 = split_items(1000, seed=7, eval_size=200)
    assert np.array_equal(tr1, tr2) and np.array_equal(ev1, ev2)
    assert len(ev1) == 200 and len(tr1) == 800
    assert not set(tr1) & set(ev1)
    assert set(tr1) | set(ev1) == set(range(1000))
    assert np.all(np.diff(ev1) > 0)  # eval in dataset order


def test_eval_set_does_not_depend_on_train_size():
    _, ev_all = split_items(1000, seed=3, eval_size=100)
    tr_small, ev_small = split_items(1000, seed=3, eval_size=100, train_size=50)
    assert np.array_equal(ev_all, ev_small)
    assert len(tr_small) == 50 and not set(tr_small) & set(ev_small)


def test_different_seeds_give_different_splits():
    _, ev1 = split_items(1000, seed=1, eval_size=100)
    _, ev2 = split_items(1000, seed=2, eval_size=100)
    assert not np.array_equal(ev1, ev2)


def test_too_few_rows_names_the_source_and_numbers():
    with pytest.raises(
        RankbenchError, match=r"data\.csv: the dataset has 10 rows, fewer than needed \(eval_size 20"
    ):
        split_items(10, seed=0, eval_size=20, source="data.csv")
    with pytest.raises(RankbenchError, match=r"eval_size 5 \+ train_size 6 = 11"):
        split_items(10, seed=0, eval_size=5, train_size=6)


def test_sample_items_sorted_seeded_and_checked():
    a = sample_items(100, 10, seed=5)
    assert np.array_equal(a, sample_items(100, 10, seed=5))
    assert len(set(a)) == 10 and np.all(np.diff(a) > 0)
    assert np.array_equal(sample_items(4, None, seed=0), np.arange(4))
    with pytest.raises(RankbenchError, match="the split has 4 rows, fewer than the 10 requested"):
        sample_items(4, 10, seed=0)


# --- tokenisation cache -------------------------------------------------------------------------


class CountingEncoder:
    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        return [[len(w) for w in t.split()][:4] for t in texts]


def test_cache_hit_on_second_call(tmp_path):
    enc = CountingEncoder()
    texts = ["a bb ccc", "dddd", "e f g h i j"]
    first = cached_tokenize(enc, texts, fingerprint="tok", max_length=4, cache_dir=tmp_path)
    second = cached_tokenize(enc, texts, fingerprint="tok", max_length=4, cache_dir=tmp_path)
    assert (first.cache_hit, second.cache_hit, enc.calls) == (False, True, 1)
    assert [list(second[i]) for i in range(3)] == [[1, 2, 3], [4], [1, 1, 1, 1]]
    assert second.flat.dtype == np.int32 and list(second.lengths) == [3, 1, 4]
    assert len(list(tmp_path.glob("tok-*.ids.npy"))) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"max_length": 5},
        {"texts": ["a bb ccc", "dddd", "e f g h i J"]},
        {"fingerprint": "other-tokenizer"},
        {"extra": "template-2"},
    ],
)
def test_cache_invalidated_by_any_input(tmp_path, change):
    enc = CountingEncoder()
    base = {"texts": ["a bb ccc", "dddd", "e f g h i j"], "fingerprint": "tok", "max_length": 4, "extra": ""}
    cached_tokenize(enc, cache_dir=tmp_path, **base)
    again = cached_tokenize(enc, cache_dir=tmp_path, **{**base, **change})
    assert not again.cache_hit and enc.calls == 2


def test_damaged_cache_entry_is_rebuilt(tmp_path):
    enc = CountingEncoder()
    cached_tokenize(enc, ["a b", "c"], fingerprint="t", max_length=4, cache_dir=tmp_path)
    (ids,) = tmp_path.glob("tok-*.ids.npy")
    ids.write_bytes(b"garbage")
    again = cached_tokenize(enc, ["a b", "c"], fingerprint="t", max_length=4, cache_dir=tmp_path)
    assert not again.cache_hit and enc.calls == 2 and list(again[0]) == [1, 1]


def test_cache_key_separates_text_boundaries():
    assert texts_cache_key("t", ["ab", "c"], 8) != texts_cache_key("t", ["a", "bc"], 8)


def test_tokenizer_fingerprint_reads_tokenizer_files(tmp_path):
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    fp = tokenizer_fingerprint(tmp_path)
    (tmp_path / "vocab.txt").write_text("a\nc\n")
    assert tokenizer_fingerprint(tmp_path) != fp
    with pytest.raises(RankbenchError, match="no tokenizer files found"):
        tokenizer_fingerprint(tmp_path / "nothing")


# --- batches ------------------------------------------------------------------------------------


def test_bucketed_order_covers_every_index_once_and_groups_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 64, size=1000)
    batches = bucketed_order(lengths, 16, np.random.default_rng(1), chunk_batches=10)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    assert all(len(b) <= 16 for b in batches) and len(batches) == 63
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_padded = sum(len(b) * lengths[b].max() for b in np.array_split(rng.permutation(1000), 63))
    assert padded < 0.75 * random_padded  # bucketing is the point


def test_bucketed_batches_new_order_each_epoch_and_reproducible():
    lengths = np.random.default_rng(0).integers(1, 20, size=100)

    def epochs(seed):
        bb = BucketedBatches(lengths, 8, seed=seed, make_batch=lambda idx: idx.tolist(), chunk_batches=4)
        return [list(bb) for _ in range(3)]

    e = epochs(11)
    assert e == epochs(11)
    assert e[0] != e[1] and e[1] != e[2] and e[0] != e[2]
    assert all(sorted(sum(epoch, [])) == list(range(100)) for epoch in e)
    assert len(BucketedBatches(lengths, 8, seed=0, make_batch=list)) == 13
    with pytest.raises(RankbenchError, match="no training items"):
        BucketedBatches(np.array([]), 8, seed=0, make_batch=list)


def test_pad_batch_right_and_left():
    ids, mask = pad_batch([np.array([5, 6, 7], np.int32), np.array([8], np.int32)], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_batch([np.array([5, 6]), np.array([8])], pad_id=9, side="left")
    assert ids.tolist() == [[5, 6], [9, 8]] and mask.tolist() == [[1, 1], [0, 1]]


def test_eval_order_longest_first_and_complete():
    lengths = np.array([3, 9, 1, 7, 5])
    batches = eval_order(lengths, 2)
    assert [b.tolist() for b in batches] == [[1, 3], [4, 0], [2]]
