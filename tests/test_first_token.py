"""The first-token last layer: the same logits as the model's own forward, or a fallback to it."""

from __future__ import annotations

import pytest
import torch

from rankbench.bench.profiles import first_token
from rankbench.bench.profiles.first_token import FirstTokenEval


def _logits(ev: FirstTokenEval, ids, mask):
    """What predict does: check on the first batch, then run with the layer installed."""
    with torch.inference_mode():
        ev.check(ids, mask)
        with ev.installed() as model:
            return model(input_ids=ids, attention_mask=mask).logits


def _batch(vocab: int, lengths=(9, 5, 7, 2), pad: int = 0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    ids = torch.full((len(lengths), longest), pad, dtype=torch.int64)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, vocab, (n,), generator=g)
        mask[row, :n] = 1
    return ids, mask


def _model(kind: str, attn: str = "sdpa"):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    torch.manual_seed(0)
    common = dict(vocab_size=50, num_labels=3, attn_implementation=attn)
    encoder = dict(hidden_size=32, intermediate_size=40, **common)
    if kind == "bert":
        cfg = BertConfig(num_hidden_layers=3, num_attention_heads=4, **encoder)
        return BertForSequenceClassification(cfg).eval()
    if kind == "roberta":
        cfg = RobertaConfig(num_hidden_layers=2, num_attention_heads=2, pad_token_id=1, **encoder)
        return RobertaForSequenceClassification(cfg).eval()
    cfg = DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=40, **common)
    return DistilBertForSequenceClassification(cfg).eval()


@pytest.mark.parametrize(("kind", "attn"), [("bert", "sdpa"), ("bert", "eager"), ("roberta", "sdpa")])
def test_first_token_logits_equal_the_full_forward_with_padding(kind, attn):
    model = _model(kind, attn)
    ids, mask = _batch(50, pad=2 if kind == "roberta" else 0)
    last = model.base_model.encoder.layer[-1]
    with torch.inference_mode():
        full = model(input_ids=ids, attention_mask=mask).logits
    ev = FirstTokenEval(model)
    fast = _logits(ev, ids, mask)
    again = _logits(ev, ids, mask)
    assert ev.path == "first_token" and ev.reason is None
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, fast)
    assert model.base_model.encoder.layer[-1] is last  # the model is left as it was


def test_first_token_layer_really_runs_one_position(monkeypatch):
    model = _model("bert")
    seen = []
    real = first_token._FirstTokenLayer.forward

    def spy(self, hidden_states, *args, **kwargs):
        out = real(self, hidden_states, *args, **kwargs)
        seen.append((hidden_states.shape[1], out.shape[1]))
        return out

    monkeypatch.setattr(first_token._FirstTokenLayer, "forward", spy)
    ids, mask = _batch(50)
    _logits(FirstTokenEval(model), ids, mask)
    assert seen and all(out_len == 1 and in_len == ids.shape[1] for in_len, out_len in seen)


def test_other_architectures_use_the_full_forward():
    model = _model("distilbert")
    ids, mask = _batch(50)
    ev = FirstTokenEval(model)
    out = _logits(ev, ids, mask)
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask).logits
    assert ev.path == "full" and "DistilBertForSequenceClassification" in ev.reason
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("fault", ["wrong", "raises"])
def test_a_failed_self_check_falls_back_to_the_full_forward(monkeypatch, fault, caplog):
    model = _model("bert")
    real = first_token._FirstTokenLayer.forward

    def broken(self, *args, **kwargs):
        if fault == "raises":
            raise RuntimeError("unexpected layout")
        return real(self, *args, **kwargs) + 1.0

    monkeypatch.setattr(first_token._FirstTokenLayer, "forward", broken)
    ids, mask = _batch(50)
    last = model.bert.encoder.layer[-1]
    ev = FirstTokenEval(model)
    out = _logits(ev, ids, mask)
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask).logits
    assert ev.path == "full"
    assert ("unexpected layout" if fault == "raises" else "logits differ") in ev.reason
    assert "first-token evaluation is off" in caplog.text
    torch.testing.assert_close(out, ref)
    assert model.bert.encoder.layer[-1] is last


def test_decoder_configs_are_not_touched():
    model = _model("bert")
    model.config.is_decoder = True
    assert FirstTokenEval(model).path == "full"


def test_the_caller_can_turn_it_off():
    model = _model("bert")
    ev = FirstTokenEval(model, enabled=False)
    last = model.bert.encoder.layer[-1]
    with ev.installed() as m:
        assert m.bert.encoder.layer[-1] is last
    assert ev.path == "full" and ev.reason == "turned off by the caller"
