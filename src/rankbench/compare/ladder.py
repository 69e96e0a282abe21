"""``compare --ladder``: the candidates, listed largest to smallest, as a fixed-sequence ladder.

The comparisons themselves are the ones :func:`~rankbench.compare.paired.compare_all` made; this
reads their verdicts in the order the user gave and applies :func:`rankbench.stats.ladder` to them:
the first candidate is tested at the full level, the sequence goes on while candidates pass, and the
claim is the last one that passed before the first failure. Candidates after it are "not evaluated"
by the sequence (their separate verdicts stay in ``comparisons``) unless ``evaluate_all``, which
shows them outside the claim.
"""

from __future__ import annotations

from typing import Any

from rankbench.stats.ladder import RungOutcome, fixed_sequence_from_verdicts

LADDER_NOTE = (
    "ladder: the candidates were taken as listed, largest first; only the claim line holds for the "
    "family (the per-candidate verdicts above are separate tests)"
)


def ladder_block(doc: dict[str, Any], *, evaluate_all: bool = False) -> dict[str, Any]:
    """The ``ladder`` block of a compare document (a :class:`~rankbench.stats.ladder.LadderResult`)."""
    plans = [c["candidate"]["input"] for c in doc["comparisons"]]
    outcomes = [RungOutcome(c["verdict"], dict(c["ci"])) for c in doc["comparisons"]]
    result = fixed_sequence_from_verdicts(
        plans, outcomes, tolerance=doc["tolerance"], confidence=doc["confidence"],
        evaluate_all=evaluate_all, reference="the baseline",
    )  # fmt: skip
    return result.to_dict()


def render_ladder(block: dict[str, Any]) -> str:
    """Plain-text lines for the table output: one per rung, then the claim."""
    lines = ["", "ladder (fixed sequence, largest first):"]
    for i, rung in enumerate(block["rungs"], 1):
        verdict = rung["verdict"] or "-"
        lines.append(f"  {i}. {rung['plan']}  {verdict:<4}  {rung['status']}")
    lines.append(f"claim: {block['claim']}")
    return "\n".join(lines) + "\n"
