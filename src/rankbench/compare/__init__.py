"""``rankbench compare``: paired verdicts from eval logs the user already has.

Loaders (:mod:`~rankbench.compare.lm_eval`, :mod:`~rankbench.compare.tables`, chosen by
:mod:`~rankbench.compare.detect`) turn each input file into per-item scores
(:class:`~rankbench.compare.records.ItemScores`); :func:`join_items` pairs a candidate with the
baseline; :func:`compare_all` runs the statistics of :mod:`rankbench.stats` on the pairs and lists
each candidate's flips (:mod:`~rankbench.compare.flips`). The statistics never learn about file
formats. :func:`rankbench.compare.lm_eval.samples_scores` is the one reader of lm-eval's per-sample
format, for ``--log_samples`` files and for the lm_eval evaluator's in-memory samples alike.
"""

from __future__ import annotations

from rankbench.compare.detect import load_input
from rankbench.compare.join import JoinedItems, join_items
from rankbench.compare.paired import compare_all, failed, holm_verdicts
from rankbench.compare.records import ItemScores, Selection

__all__ = [
    "ItemScores",
    "JoinedItems",
    "Selection",
    "compare_all",
    "failed",
    "holm_verdicts",
    "join_items",
    "load_input",
]
