"""Pair a candidate's items with the baseline's: same ids, same documents, same task.

Items join on their id (lm-eval: ``doc_id``). The same id with a different ``doc_hash`` means the two
logs scored different documents under one number (another dataset version, shuffle or prompt), so the
comparison stops at the first such id. Item sets that differ are refused unless ``intersect`` is set;
then the comparison runs on the common items, in the baseline's order, and says how many were dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rankbench.compare.records import ItemScores
from rankbench.errors import RankbenchError


@dataclass(frozen=True)
class JoinedItems:
    """Baseline and candidate scores on the same items, in the same order."""

    ids: tuple[str, ...]
    baseline: np.ndarray = field(repr=False)  # (n,)
    candidate: np.ndarray = field(repr=False)  # (n,)
    dropped_baseline: int  # items only the baseline has (dropped under --intersect)
    dropped_candidate: int  # items only the candidate has


def _check_same_task(base: ItemScores, cand: ItemScores) -> None:
    if base.task is not None and cand.task is not None and base.task != cand.task:
        raise RankbenchError(
            f"mismatched tasks: the baseline is {base.task!r} ({base.path}), this candidate {cand.task!r}",
            path=cand.path,
            hint="compare logs of the same task; pick one with --task in an lm-eval output folder",
        )


def _check_same_documents(base: ItemScores, cand: ItemScores, common: set[str]) -> None:
    if base.doc_hashes is None or cand.doc_hashes is None:
        return
    cand_hash = dict(zip(cand.ids, cand.doc_hashes, strict=True))
    for item, h in zip(base.ids, base.doc_hashes, strict=True):
        if item in common and cand_hash[item] != h:
            raise RankbenchError(
                f"doc_id {item} holds a different document than in the baseline ({base.path}): "
                "doc_hash differs, so these are not the same items",
                path=cand.path,
                hint="evaluate both models on the same dataset version, split, order and prompt",
            )


def join_items(base: ItemScores, cand: ItemScores, *, intersect: bool = False) -> JoinedItems:
    """Align ``cand`` to ``base`` by id; refuse differing item sets unless ``intersect``."""
    _check_same_task(base, cand)
    base_ids, cand_ids = set(base.ids), set(cand.ids)
    common = base_ids & cand_ids
    _check_same_documents(base, cand, common)
    only_base, only_cand = len(base_ids - cand_ids), len(cand_ids - base_ids)
    if (only_base or only_cand) and not intersect:
        first = next((i for i in base.ids if i not in cand_ids), None)
        first = first if first is not None else next(i for i in cand.ids if i not in base_ids)
        raise RankbenchError(
            f"the item sets differ: baseline {len(base_ids)} items, candidate {len(cand_ids)}; "
            f"{only_base} only in the baseline, {only_cand} only in the candidate (first: {first!r})",
            path=cand.path,
            hint="evaluate both on the same items, or pass --intersect to compare on the common ones",
        )
    if not common:
        raise RankbenchError(
            f"no item id in common with the baseline ({base.path})",
            path=cand.path,
            hint="check that both files come from the same task and use the same ids (--id)",
        )
    pos = {item: i for i, item in enumerate(cand.ids)}
    ids = tuple(i for i in base.ids if i in common)
    base_idx = np.array([k for k, i in enumerate(base.ids) if i in common])
    cand_idx = np.array([pos[i] for i in ids])
    return JoinedItems(ids, base.scores[base_idx], cand.scores[cand_idx], only_base, only_cand)
