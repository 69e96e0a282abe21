"""A tiny random Llama and a character-level tokenizer, for the causal-LM tests.

torch, transformers and tokenizers are imported inside the builders: a test module that uses them skips
first (``pytest.importorskip("torch")``).
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def make_char_tokenizer(*, chat: bool = False):
    """One token per printable ASCII character (anything else is <unk>); pad=0, bos=1, eos=2.

    Like Llama's, it puts BOS before a text when asked for special tokens.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) - set("\x0b\x0c\r"))
    vocab = {t: i for i, t in enumerate(SPECIALS + chars)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def make_tiny_llama(vocab_size: int, *, seed: int = 0, init_scale: float = 0.02):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=vocab_size,
        max_position_embeddings=2048,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        initializer_range=init_scale,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def save_tiny_llama(folder: Path, *, chat: bool = False, seed: int = 0, init_scale: float = 0.02) -> Path:
    """A model folder (config.json, model.safetensors, tokenizer files) that the profile can load."""
    tok = make_char_tokenizer(chat=chat)
    model = make_tiny_llama(len(tok), seed=seed, init_scale=init_scale)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
