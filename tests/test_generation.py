"""Batched greedy generation: deterministic, batch-invariant, stop strings, max_new_tokens."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from helpers.tiny_llama import make_char_tokenizer, make_tiny_llama  # noqa: E402
from rankbench.bench.data import pad_batch  # noqa: E402
from rankbench.bench.profiles.generation import generate_greedy, truncate_at_stop  # noqa: E402

PROMPTS = [
    "Q: Janet has 16 eggs and eats 3. How many are left?\nA:",
    "Hello",
    "x",
    "A robe takes 2 bolts of blue fiber and half that much white fiber.",
]


@pytest.fixture(scope="module")
def tok():
    return make_char_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return make_tiny_llama(len(tok), seed=0, init_scale=0.2)


@pytest.fixture(scope="module")
def prompts(tok):
    return [tok(p)["input_ids"] for p in PROMPTS]


def test_same_outputs_twice_and_in_the_callers_order(model, tok, prompts):
    a = generate_greedy(model, tok, prompts, max_new_tokens=12, batch_size=4)
    b = generate_greedy(model, tok, prompts, max_new_tokens=12, batch_size=4)
    assert a == b
    # reversed input -> reversed output: the length sort is undone
    c = generate_greedy(model, tok, prompts[::-1], max_new_tokens=12, batch_size=4)
    assert c == a[::-1]
    assert len({g.text for g in a}) == len(PROMPTS)  # the prompts really lead to different texts


def test_padding_and_batch_composition_do_not_change_greedy_results(model, tok, prompts):
    batched = generate_greedy(model, tok, prompts, max_new_tokens=12, batch_size=4)
    pairs = generate_greedy(model, tok, prompts, max_new_tokens=12, batch_size=2)
    alone = [generate_greedy(model, tok, [p], max_new_tokens=12, batch_size=1)[0] for p in prompts]
    assert batched == alone
    assert pairs == alone


def test_left_padded_logits_match_unpadded_logits_within_fp32_tolerance(model, prompts):
    """What batch invariance rests on: a left-padded row's next-token logits equal the row alone."""
    seqs = [torch.tensor(p) for p in prompts]
    ids, mask = pad_batch([s.numpy() for s in seqs], 0, side="left")  # (4, longest)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask, position_ids=position_ids).logits[:, -1]
        for row, s in enumerate(seqs):
            single = model(input_ids=s[None]).logits[0, -1]
            assert torch.allclose(padded[row], single, atol=1e-5, rtol=0), (padded[row] - single).abs().max()


def test_max_new_tokens_is_respected(model, tok, prompts):
    gens = generate_greedy(model, tok, prompts, max_new_tokens=7, batch_size=4)
    for g in gens:
        assert g.n_new_tokens <= 7
        assert len(g.text) <= 7  # one character per token
        assert g.finish in ("eos", "length")
    assert any(g.finish == "length" and g.n_new_tokens == 7 for g in gens)


def test_stop_strings_truncate_and_stop_each_row(model, tok, prompts):
    free = generate_greedy(model, tok, prompts, max_new_tokens=20, batch_size=4)
    assert all(len(g.text) >= 12 for g in free), [g.text for g in free]
    # a stop string taken from the middle of row 0's text; rows without it run on
    stop = free[0].text[6:9]
    stopped = generate_greedy(model, tok, prompts, max_new_tokens=20, stop=[stop, "never-seen"], batch_size=4)
    for f, s in zip(free, stopped, strict=True):
        if stop in f.text:
            assert s.text == f.text[: f.text.find(stop)]
            assert s.finish == "stop"
            assert s.n_new_tokens == f.text.find(stop) + len(stop)  # one token per character
        else:
            assert s == f
    assert stopped[0].finish == "stop" and len(stopped[0].text) <= 6


def test_generation_ends_when_every_row_has_stopped(model, tok, prompts):
    free = generate_greedy(model, tok, prompts, max_new_tokens=30, batch_size=4)
    stops = [g.text[1] for g in free]  # every row meets its own stop string by its second token
    calls = []
    handle = model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        gens = generate_greedy(model, tok, prompts, max_new_tokens=30, stop=stops, batch_size=4)
    finally:
        handle.remove()
    assert all(g.finish == "stop" for g in gens)
    assert len(calls) <= 3  # not 30 steps


def test_truncate_at_stop_uses_the_earliest_of_several():
    assert truncate_at_stop("a\n\nQuestion: b", ["Question:", "\n\n"]) == ("a", True)
    assert truncate_at_stop("abc", ["x", ""]) == ("abc", False)
    assert truncate_at_stop("abc", []) == ("abc", False)
