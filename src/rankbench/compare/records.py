"""Per-item scores read from one input file: what every loader produces and all that ``compare`` needs.

A loader turns a file (lm-eval ``--log_samples`` output, a rankbench ``predictions.jsonl``, a generic
JSONL or CSV) into one :class:`ItemScores`; the statistics only ever see the aligned score arrays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankbench.errors import RankbenchError

SCORE_HINT = (
    "compare needs per-item scores in [0, 1] (1/0 correctness, or a graded score such as F1); "
    "pick such a metric with --metric, or rescale the column of a generic file to [0, 1]"
)


@dataclass(frozen=True)
class Selection:
    """What the user asked to compare: ``--task``, ``--metric``, ``--filter``, and ``--id``/``--score``."""

    task: str | None = None
    metric: str | None = None
    filter: str | None = None
    id_column: str | None = None
    score_column: str | None = None


@dataclass(frozen=True)
class ItemScores:
    """One input's per-item scores, in file order, with where they came from.

    ``doc_hashes`` (lm-eval only) fingerprint each item's document, so that two logs can be checked to
    hold the same items and not merely the same ids.
    """

    path: str
    format: str
    task: str | None
    metric: str
    filter: str | None
    ids: tuple[str, ...]
    scores: np.ndarray = field(repr=False)  # (n,) float64 in [0, 1]
    doc_hashes: tuple[str, ...] | None = None
    input: str | None = None  # the path as the user gave it (a folder, or the file itself)
    texts: tuple[str, ...] | None = None  # each item's prompt or document text, where the log has it

    def describe(self) -> dict[str, Any]:
        """The input as it is named in every output (JSON, table, Markdown)."""
        return {
            "input": self.input or self.path,
            "path": self.path,
            "format": self.format,
            "task": self.task,
            "metric": self.metric,
            "filter": self.filter,
            "n_items": len(self.ids),
        }


def first_repeat(ids: Iterable[str]) -> str | None:
    """The first id that appears a second time, or None when every id is unique."""
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            return item
        seen.add(item)
    return None


def check_unique(ids: list[str], path: str, what: str = "id") -> None:
    item = first_repeat(ids)
    if item is not None:
        raise RankbenchError(
            f"duplicate {what} {item!r}: every item must appear once",
            path=path,
            hint="remove the repeated rows, or pick the column that identifies an item with --id",
        )


def as_score(value: Any, *, path: str, item: str, metric: str) -> float:
    """One per-item value as a float in [0, 1] (booleans are 1/0), or a RankbenchError naming the item."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise RankbenchError(
                f"item {item!r}: {metric} is {value!r}, not a number", path=path, hint=SCORE_HINT
            ) from None
    if not isinstance(value, (int, float)):
        raise RankbenchError(
            f"item {item!r}: {metric} is a {type(value).__name__}, not a number", path=path, hint=SCORE_HINT
        )
    value = float(value)
    if not math.isfinite(value):
        raise RankbenchError(
            f"item {item!r}: {metric} is {value} (NaN or infinite)",
            path=path,
            hint="a score is missing or failed to compute; fix or drop that item in both files",
        )
    if not 0.0 <= value <= 1.0:
        raise RankbenchError(
            f"item {item!r}: {metric} = {value:g} is outside [0, 1]", path=path, hint=SCORE_HINT
        )
    return value


def make_item_scores(
    path,
    fmt: str,
    rows: list[tuple[Any, Any]],
    *,
    metric: str,
    task=None,
    filter=None,
    doc_hashes=None,
    texts=None,
) -> ItemScores:
    """Build an ItemScores from (id, raw value) rows, checking that ids are unique and values are scores."""
    path = str(path)
    ids = [str(i) for i, _ in rows]
    if not ids:
        raise RankbenchError("no items found", path=path, hint="is this the right file?")
    check_unique(ids, path)
    scores = np.array(
        [as_score(v, path=path, item=i, metric=metric) for i, (_, v) in zip(ids, rows, strict=True)]
    )
    hashes = None if doc_hashes is None else tuple(doc_hashes)
    texts = None if texts is None else tuple(texts)
    return ItemScores(path, fmt, task, metric, filter, tuple(ids), scores, hashes, texts=texts)
