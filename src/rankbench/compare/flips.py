"""The flip list: the items on which a candidate and its baseline disagree, named, with their text.

When a verdict surprises, these are the items to read first. ``lost`` holds the items the candidate
scores below the baseline (for 1/0 scores: the baseline right, the candidate wrong), ``gained`` the
reverse; each with its id, both scores and the prompt or document text where the log kept it. Their
lengths are the discordant counts of the paired statistics (``baseline_only`` / ``candidate_only``).
"""

from __future__ import annotations

from collections.abc import Mapping

from rankbench.compare.join import JoinedItems
from rankbench.compare.records import ItemScores

MAX_TEXT = 400  # characters of an item's text kept in a flip (the end of a long few-shot prompt)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :]


def item_texts(*inputs: ItemScores) -> dict[str, str]:
    """id → text from the inputs that carry texts (the first input that has an id wins)."""
    out: dict[str, str] = {}
    for scores in inputs:
        if scores.texts is None:
            continue
        for item, text in zip(scores.ids, scores.texts, strict=True):
            out.setdefault(item, text)
    return out


def flip_list(
    joined: JoinedItems, texts: Mapping[str, str] | None = None, *, max_text: int = MAX_TEXT
) -> dict:
    """``{"lost": [...], "gained": [...]}`` in the baseline's item order; pure, from the joined scores."""
    texts = texts or {}
    lost, gained = [], []
    for item, b, c in zip(joined.ids, joined.baseline, joined.candidate, strict=True):
        if b == c:
            continue
        entry = {
            "id": item,
            "baseline": float(b),
            "candidate": float(c),
            "text": _clip(texts.get(item), max_text),
        }
        (lost if c < b else gained).append(entry)
    return {"lost": lost, "gained": gained}
