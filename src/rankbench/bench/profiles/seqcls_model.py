"""Loading a sequence classifier: the tokenizer, the base with a fresh head, and its LoRA targets."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import torch

from rankbench.bench.data import tokenizer_fingerprint
from rankbench.bench.sources import ModelSource
from rankbench.errors import RankbenchError


@contextmanager
def _quiet_transformers():
    """transformers logs 'newly initialized' warnings for the head we are about to train: expected."""
    log = logging.getLogger("transformers")
    old = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(old)


def load_tokenizer(source: ModelSource, cfg):
    from transformers import AutoTokenizer

    kw = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    with _quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(
            str(source.path), trust_remote_code=cfg.model.trust_remote_code, **kw
        )
    return tokenizer


def tokenizer_key(source: ModelSource) -> str:
    """The token cache key: the tokenizer files' hash (new weights keep the cache), else the revision."""
    try:
        return tokenizer_fingerprint(source.path)
    except RankbenchError:  # e.g. a tokenizer inside a GGUF file
        return source.revision


def pad_id(tokenizer) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def load_base(source: ModelSource, cfg, num_labels: int, pad_token_id: int):
    """(model, missing_keys): the base with a fresh ``num_labels`` head, frozen except what PEFT trains."""
    from transformers import AutoModelForSequenceClassification

    kw = {"gguf_file": source.gguf_file} if source.gguf_file else {"use_safetensors": True}
    with _quiet_transformers():
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(source.path),
            num_labels=num_labels,
            dtype=torch.float32,  # master weights; bf16 compute comes from autocast
            trust_remote_code=cfg.model.trust_remote_code,
            output_loading_info=True,
            **kw,
        )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id  # decoder heads find the last token through it
    return model, list(info.get("missing_keys", []))


def extra_head_modules(missing: list[str]) -> list[str]:
    """Modules the checkpoint lacks besides the head PEFT saves anyway: save them in the adapter too."""
    modules = {k.rsplit(".", 1)[0] for k in missing}
    return sorted(m for m in modules if m.split(".")[0] not in ("classifier", "score"))


def meta_classifier(source: ModelSource, cfg, num_labels: int = 2):
    """The classifier on the meta device (names and shapes only: no memory, no weights read)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    kw = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    config = AutoConfig.from_pretrained(
        str(source.path), num_labels=num_labels, trust_remote_code=cfg.model.trust_remote_code, **kw
    )
    with torch.device("meta"), _quiet_transformers():
        return AutoModelForSequenceClassification.from_config(config)


def linear_targets(source: ModelSource, cfg) -> list[str]:
    from transformers.pytorch_utils import Conv1D

    model = meta_classifier(source, cfg)
    prefix = model.base_model_prefix + "."
    body, head = [], set()
    for path, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, Conv1D)):
            if path.startswith(prefix):
                body.append(path)
            else:
                head.add(path.rsplit(".", 1)[-1])
    names: list[str] = []
    for path in body:
        leaf = path.rsplit(".", 1)[-1]
        target = path if leaf in head else leaf  # a leaf name the head shares must not match the head
        if target not in names:
            names.append(target)
    if not names:
        raise RankbenchError(
            "found no Linear layers to put LoRA on", path=source.path, hint="set lora.target_modules"
        )
    return names
