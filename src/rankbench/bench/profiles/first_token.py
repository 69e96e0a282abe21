"""Evaluation that computes the last encoder layer for the first token only.

A BERT-style classifier reads one position of the last layer: the pooler (or RoBERTa's head) takes
``hidden[:, 0]``. Every other row of that layer is computed and thrown away. Here the last layer's
keys and values still come from all tokens, but its query, attention output and feed-forward run on
the first token alone. On MiniLM-L6 that removes about 14% of an evaluation's multiply-adds. An
evaluation is almost all multiply-adds and its matmuls already run at the CPU's peak, so doing fewer
of them is one of the two savings that keep the function exact (the other, in ``batch_workers``,
keeps every core busy).

It is the same function: only the order of the additions changes. It applies to the model classes in
``SUPPORTED`` whose layers have the BERT layout, and :class:`FirstTokenEval` checks it on the first
batch in float32 against the model's own forward: a mismatch turns it off for that model and the
evaluation goes on with the full forward.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

# heads that read position 0 of the last hidden state and nothing else of it
SUPPORTED = frozenset(
    {
        "BertForSequenceClassification",
        "RobertaForSequenceClassification",
        "XLMRobertaForSequenceClassification",
    }
)
# relative tolerance of the float32 self-check (the two paths differ by summation order only)
CHECK_RTOL = 1e-4
CHECK_ROWS = 4  # the check is of the structure, so a few rows of the longest batch will do


class _FirstTokenLayer(torch.nn.Module):
    """Wraps a BERT layer; returns (batch, 1, hidden): the layer's output at position 0."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.inner = layer

    def forward(self, hidden_states, attention_mask=None, *args, **kwargs):
        attn = self.inner.attention.self
        batch, length, _ = hidden_states.shape
        first = hidden_states[:, :1]

        def heads(x):
            return x.view(batch, x.shape[1], -1, attn.attention_head_size).transpose(1, 2)

        q = heads(attn.query(first))
        k, v = heads(attn.key(hidden_states)), heads(attn.value(hidden_states))
        mask = attention_mask
        if mask is not None and mask.dim() == 4 and mask.shape[-2] == length:
            mask = mask[:, :, :1, :]  # the query row of position 0
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scaling)
        context = context.transpose(1, 2).reshape(batch, 1, -1)
        attended = self.inner.attention.output(context, first)
        return self.inner.feed_forward_chunk(attended)


def _last_layers(model) -> torch.nn.ModuleList | None:
    """The encoder's layer list when the model has the layout this module knows, else None."""
    if type(model).__name__ not in SUPPORTED or getattr(model.config, "is_decoder", False):
        return None
    encoder = getattr(getattr(model, model.base_model_prefix, None), "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, torch.nn.ModuleList) or len(layers) == 0:
        return None
    last = layers[-1]
    attn = getattr(getattr(last, "attention", None), "self", None)
    needed = all(hasattr(attn, name) for name in ("query", "key", "value", "scaling", "attention_head_size"))
    if not needed or not hasattr(last.attention, "output") or not hasattr(last, "feed_forward_chunk"):
        return None
    return layers


class FirstTokenEval:
    """Installs the first-token last layer where it applies and passes its check.

    Call :meth:`check` with the first batch, then run the model inside :meth:`installed`. ``path`` says
    which forward ran: "first_token" or "full" (with ``reason`` when the fast one was refused).
    """

    def __init__(self, model, enabled: bool = True) -> None:
        self.model = model
        self.layers = _last_layers(model) if enabled else None
        self.path = "full" if self.layers is None else "first_token"
        if not enabled:
            self.reason = "turned off by the caller"
        elif self.layers is None:
            self.reason = f"{type(model).__name__}: not a supported layout"
        else:
            self.reason = None

    @contextmanager
    def installed(self):
        """The model with the first-token last layer (if kept) for the duration of the block."""
        if self.layers is None:
            yield self.model
            return
        original = self.layers[-1]
        self.layers[-1] = _FirstTokenLayer(original)
        try:
            yield self.model
        finally:
            self.layers[-1] = original

    def check(self, input_ids, attention_mask) -> None:
        """Both paths in float32 on a few rows; the fast one stays only if they agree."""
        if self.layers is None:
            return
        input_ids, attention_mask = input_ids[:CHECK_ROWS], attention_mask[:CHECK_ROWS]
        full = self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        try:
            with self.installed() as model:
                fast = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        except Exception as exc:  # an unexpected layout: fall back, never fail the evaluation
            fast, error = None, f"{type(exc).__name__}: {exc}"
        if fast is not None and fast.shape == full.shape:
            gap = float((fast - full).abs().max())
            scale = float(full.abs().max()) + 1.0
            if gap <= CHECK_RTOL * scale:
                return
            error = f"logits differ by {gap:.3g} on the first batch"
        elif fast is not None:
            error = f"logits shape {tuple(fast.shape)} != {tuple(full.shape)}"
        self.layers, self.path, self.reason = None, "full", error
        log.warning("first-token evaluation is off for %s (%s)", type(self.model).__name__, error)
