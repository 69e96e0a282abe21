"""What an evaluator is: the part of a bench that scores items, apart from the profile that trains.

The profile prepares data, trains the probe (or takes the user's adapter) and builds the variants; the
evaluator turns an adapter folder into per-item records, the rows of ``predictions.jsonl``:
``item_id`` (stable across the probe and every variant), ``score`` (in [0, 1]), and where there is one
the item's text (``prompt``). The built-in evaluators are named in :data:`rankbench.names.EVAL_HARNESSES`:
``profile`` (the profile's own metric, the default) and ``lm_eval`` (lm-evaluation-harness tasks).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rankbench.bench.profiles.base import EvalResult, ProgressFn


class Evaluator(Protocol):
    """Scores one adapter folder on the bench's fixed items."""

    name: str

    def evaluate(self, adapter_dir: Path, *, progress: ProgressFn | None = None) -> EvalResult:
        """Per-item records for ``adapter_dir`` on the same items, in the same order, every call."""
        ...

    def provenance(self) -> dict:
        """What a rerun must match: the evaluator's name, versions, task configs, document hashes."""
        ...


def task_results(records: list[dict]) -> dict[str, dict]:
    """Per task: metric, filter, mean score and item count, from records that name their ``task``."""
    out: dict[str, dict] = {}
    for r in records:
        t = out.setdefault(
            str(r["task"]), {"metric": r.get("metric"), "filter": r.get("filter"), "sum": 0.0, "n_items": 0}
        )
        t["sum"] += float(r["score"])
        t["n_items"] += 1
    for t in out.values():
        t["value"] = t.pop("sum") / t["n_items"]
    return out
