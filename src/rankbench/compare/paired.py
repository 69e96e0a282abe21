"""The ``compare`` document: every candidate against one baseline on the same items, with its verdict.

The statistics are :func:`rankbench.stats.paired_delta` (Tango's score interval for 1/0 scores, a
paired t-interval for graded ones) and :func:`rankbench.stats.noninferiority` (PASS iff the lower end
of the interval of Δ = candidate − baseline is above −tolerance; ``mde`` is the smallest margin the
items resolve with 80% power at Δ = 0). Nothing here knows about file formats.

Several candidates give several separate tests. The optional Holm step-down adjustment (``holm=True``)
controls the chance of any false PASS among them: with R candidates not yet passed, each is re-tested
with the lower end of its interval at confidence 1 − α/R (one-sided α/(2R), α = 1 − confidence); those
that pass leave the set, and the next round uses the smaller R, until a round passes none. It needs no
p-values, only the same intervals at other levels, which are nested.
"""

from __future__ import annotations

from typing import Any

from rankbench.compare.flips import flip_list, item_texts
from rankbench.compare.join import JoinedItems, join_items
from rankbench.compare.records import ItemScores
from rankbench.stats import noninferiority, paired_delta

KIND = "rankbench_compare"
SCHEMA_VERSION = 1  # an int, like every artifact's
SEPARATE_TESTS = (
    "each verdict is a separate test of one candidate against the baseline, not a family-wise claim: "
    "the chance that some candidate worse than the tolerance PASSes by luck grows with the number of "
    "candidates (--holm gives verdicts that hold for the family)"
)
HOLM_NOTE = (
    "holm: Holm's step-down adjustment over all {m} candidates; a holm PASS holds for the family: the "
    "chance of any false PASS among them is at most {risk:g} (one-sided, like each single verdict)"
)


def compare_one(
    cand: ItemScores,
    joined: JoinedItems,
    *,
    tolerance: float,
    confidence: float,
    texts: dict[str, str] | None = None,
    label: str | None = None,
) -> dict:
    """One candidate's entry of comparisons[]: counts, means, Δ, interval, verdict, margin, flip list.

    These keys, in this order, are the document's stable interface (tests pin them)."""
    pd = paired_delta(joined.baseline, joined.candidate, confidence=confidence, tolerance=tolerance)
    v = noninferiority(pd, tolerance)
    return {
        "candidate": cand.describe(),
        "label": label,  # a short name for tables and figures (C1, C2, ...), with a legend beside them
        "n": pd.n,
        "candidate_only": pd.variant_only_correct,  # right only for the candidate (1/0 scores)
        "baseline_only": pd.probe_only_correct,  # right only for the baseline
        "baseline_mean": pd.probe_mean,
        "candidate_mean": pd.variant_mean,
        "delta": pd.delta,
        "ci": {"low": pd.ci_low, "high": pd.ci_high, "confidence": pd.confidence, "method": pd.method},
        "binary": pd.binary,
        "tolerance": v.tolerance,
        "verdict": v.verdict,
        "rule": v.rule,
        "point_rule_verdict": v.point_rule_verdict,
        "mde": v.mde,
        "mde_rule": v.mde_rule,
        "dropped": {"baseline": joined.dropped_baseline, "candidate": joined.dropped_candidate},
        "holm": None,
        "notes": [*pd.notes, *v.notes],
        "flips": flip_list(joined, texts),
    }


def holm_verdicts(joined: list[JoinedItems], *, tolerance: float, confidence: float) -> list[dict]:
    """Holm step-down verdicts: {"verdict", "confidence"} per candidate (the level it was last tested at)."""
    alpha = 1.0 - confidence
    remaining = list(range(len(joined)))
    out: list[dict[str, Any]] = [{"verdict": "FAIL", "confidence": None} for _ in joined]
    while remaining:
        level = 1.0 - alpha / len(remaining)
        passed = []
        for i in remaining:
            pd = paired_delta(joined[i].baseline, joined[i].candidate, confidence=level)
            out[i] = {"verdict": noninferiority(pd, tolerance).verdict, "confidence": level}
            if out[i]["verdict"] == "PASS":
                passed.append(i)
        if not passed:
            break
        remaining = [i for i in remaining if i not in passed]
    return out


def compare_all(
    baseline: ItemScores,
    candidates: list[ItemScores],
    *,
    tolerance: float = 0.01,
    confidence: float = 0.95,
    intersect: bool = False,
    holm: bool = False,
) -> dict:
    """The whole document: the baseline, the settings, one entry per candidate, and the notes."""
    joined = [join_items(baseline, c, intersect=intersect) for c in candidates]
    comparisons = [
        compare_one(
            c, j, tolerance=tolerance, confidence=confidence, texts=item_texts(baseline, c), label=f"C{i}"
        )
        for i, (c, j) in enumerate(zip(candidates, joined, strict=True), 1)
    ]
    if holm:
        for entry, h in zip(
            comparisons, holm_verdicts(joined, tolerance=tolerance, confidence=confidence), strict=True
        ):
            entry["holm"] = h
    notes = []
    if len(candidates) > 1:
        notes.append(SEPARATE_TESTS)
    if holm:
        notes.append(HOLM_NOTE.format(m=len(candidates), risk=round((1.0 - confidence) / 2.0, 12)))
    return {
        "kind": KIND,
        "schema_version": SCHEMA_VERSION,
        "baseline": baseline.describe(),
        "tolerance": tolerance,
        "confidence": confidence,
        "intersect": intersect,
        "holm": holm,
        "comparisons": comparisons,
        "notes": notes,
    }


def failed(doc: dict) -> list[str]:
    """The candidates that FAIL, as the user named them (their Holm verdict when the document has one)."""
    out = []
    for c in doc["comparisons"]:
        verdict = c["holm"]["verdict"] if c["holm"] is not None else c["verdict"]
        if verdict != "PASS":
            out.append(c["candidate"]["input"])
    return out
