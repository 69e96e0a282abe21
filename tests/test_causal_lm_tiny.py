"""The tiny causal-LM builders of tests/helpers/tiny_llama.py do what the causal-LM tests rely on."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.tiny_llama import CHAT_TEMPLATE, make_char_tokenizer, save_tiny_llama  # noqa: E402


def test_char_tokenizer_round_trips_gsm8k_text():
    tok = make_char_tokenizer()
    text = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs.\n#### 1,080"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)
    assert tok(text)["input_ids"] == [tok.bos_token_id, *ids]
    assert tok.decode(ids) == text
    assert tok.decode([*ids, tok.eos_token_id], skip_special_tokens=True) == text


def test_saved_tiny_llama_loads_with_its_chat_template(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = save_tiny_llama(tmp_path / "m", chat=True)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert tok.chat_template == CHAT_TEMPLATE
    assert model.config.vocab_size == len(tok)
    assert sum(p.numel() for p in model.parameters()) < 50_000
