"""The smallest safe rank: candidates ("rungs") tested in a fixed sequence, with a family-wise claim.

The rungs are ordered from largest to smallest before anything is evaluated. Each is tested at the
full level (PASS iff the lower end of its interval of Δ is above −tolerance); the sequence goes on only
while rungs pass. The claim is the smallest rung that passed before the first failure.

Why no adjustment is needed: a false claim needs some rung that is truly worse than the tolerance to
PASS. Let j be the first such rung in the order. The claim can only reach past j if j itself is tested
and passes, which happens with probability ≤ α (its own one-sided level); rungs before j are truly
within the tolerance, so no error is made there. So P(any false PASS inside the claim) ≤ α, for any
number of rungs and any dependence between their tests. The same argument holds for a campaign, where
each rung's "PASS" is the claim policy over seeds (decision interval and clauses).

Rungs after the first failure are **not evaluated**: the saving is real and is reported. A rung
evaluated anyway for the picture (``evaluate_all``) gets its verdict but stays **outside the claim**.
Controls are not rungs: they answer questions about the method, not candidates for shipping.

Everything here is pure: the caller passes a function that evaluates one rung (the bench trains or
truncates and scores it; ``compare --ladder`` reads its log) and gets a :class:`LadderResult` back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rankbench.errors import RankbenchError
from rankbench.records import from_record
from rankbench.stats._validate import check_confidence, check_tolerance, to_dict

PASSED, FAILED, NOT_EVALUATED, OUTSIDE = "passed", "failed", "not evaluated", "outside the claim"
PROCEDURE = (
    "fixed-sequence test: rungs ordered largest to smallest before evaluation, each tested at the full "
    "level, stopping at the first failure; family-wise false-PASS risk ≤ the one-sided level"
)


@dataclass(frozen=True)
class RungOutcome:
    """What evaluating one rung gives: its verdict and the interval that decided it."""

    verdict: str  # "PASS" | "FAIL"
    interval: dict[str, Any] | None = None  # {"low", "high", "confidence", "method", ...}


@dataclass(frozen=True)
class Rung:
    """One candidate of the ladder and what the sequence did with it."""

    plan: str  # in the syntax of ``compress --plan``, e.g. "rank:4", "budget:0.25"; or a log's name
    ranks: dict[str, int] | None = None  # per module, when the caller knows them
    parameters: int | None = None  # LoRA parameters of the rung, when known
    verdict: str | None = None  # None: not evaluated
    interval: dict[str, Any] | None = None
    evaluated: bool = False
    in_claim: bool = False  # tested inside the fixed sequence (False for --evaluate-all extras)
    status: str = NOT_EVALUATED  # passed / failed / not evaluated / outside the claim

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


@dataclass(frozen=True)
class LadderResult:
    """The ladder block of the artifacts: the order, every rung, the smallest safe one and the claim."""

    order: tuple[str, ...]
    rungs: tuple[Rung, ...]
    smallest_safe: str | None
    alpha: float  # the family-wise one-sided false-PASS risk: (1 − confidence)/2
    confidence: float
    tolerance: float
    claim: str
    procedure: str
    evaluated: int
    not_evaluated: int  # rungs the sequence did not need: the saving
    evaluate_all: bool
    removed_by_cap: tuple[str, ...] = ()
    max_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = to_dict(self)
        out["rungs"] = [r.to_dict() for r in self.rungs]
        return out

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def cap_rungs(max_ranks: Sequence[int], max_rank: int | None) -> tuple[list[int], list[int]]:
    """(kept, removed) rung indices under a serving cap: a rung whose largest rank exceeds it goes."""
    if max_rank is None:
        return list(range(len(max_ranks))), []
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
        raise RankbenchError(f"max_rank must be an integer ≥ 1, got {max_rank!r}", hint="e.g. max_rank: 16")
    kept = [i for i, r in enumerate(max_ranks) if r <= max_rank]
    return kept, [i for i, r in enumerate(max_ranks) if r > max_rank]


def check_order(plans: Sequence[str], sizes: Sequence[float] | None = None) -> None:
    """Refuse an empty ladder, a repeated rung, or sizes (ranks or parameters) that do not fall."""
    if not plans:
        raise RankbenchError("the ladder has no rungs", hint="list candidates from largest to smallest")
    repeated = sorted({p for p in plans if list(plans).count(p) > 1})
    if repeated:
        raise RankbenchError(
            f"ladder rung(s) listed twice: {', '.join(repeated)}", hint="list each rung once"
        )
    if sizes is not None:
        if len(sizes) != len(plans):
            raise RankbenchError(f"{len(plans)} rungs but {len(sizes)} sizes")
        for k in range(1, len(plans)):
            a, sa, b, sb = plans[k - 1], sizes[k - 1], plans[k], sizes[k]
            if not sb < sa:
                raise RankbenchError(
                    f"ladder rungs must go from largest to smallest, but {b} ({sb:g}) follows {a} ({sa:g})",
                    hint="order the rungs before any evaluation, largest first",
                )


def run_fixed_sequence(
    rungs: Sequence[Rung],
    evaluate: Callable[[int], RungOutcome],
    *,
    tolerance: float,
    confidence: float = 0.95,
    evaluate_all: bool = False,
    removed_by_cap: Sequence[str] = (),
    max_rank: int | None = None,
    reference: str = "the probe",
) -> LadderResult:
    """Test ``rungs`` in order with ``evaluate(i)``; stop at the first FAIL unless ``evaluate_all``.

    ``evaluate`` is called for rung 0, 1, ... while they pass and never for a rung after the first
    failure (with ``evaluate_all`` it is, and those rungs are marked outside the claim).
    """
    tolerance, confidence = check_tolerance(tolerance), check_confidence(confidence)
    check_order([r.plan for r in rungs])
    out, failed = [], False
    for i, rung in enumerate(rungs):
        if failed and not evaluate_all:
            out.append(_with(rung, None, evaluated=False, in_claim=False, status=NOT_EVALUATED))
            continue
        outcome = evaluate(i)
        if outcome.verdict not in ("PASS", "FAIL"):
            raise RankbenchError(f"rung {rung.plan}: verdict {outcome.verdict!r}, expected PASS or FAIL")
        status = OUTSIDE if failed else (PASSED if outcome.verdict == "PASS" else FAILED)
        out.append(_with(rung, outcome, evaluated=True, in_claim=not failed, status=status))
        failed = failed or outcome.verdict == "FAIL"
    result = _result(out, tolerance, confidence, evaluate_all, tuple(removed_by_cap), max_rank)
    if reference != "the probe":
        claim = claim_sentence(out, result.smallest_safe, tolerance, result.alpha, reference)
        result = dataclasses.replace(result, claim=claim)
    return result


def fixed_sequence_from_verdicts(
    plans: Sequence[str], outcomes: Sequence[RungOutcome], **kwargs: Any
) -> LadderResult:
    """The fixed sequence over outcomes that already exist (e.g. eval logs): the rungs after the first
    failure are reported as not evaluated (or outside the claim with ``evaluate_all``)."""
    if len(plans) != len(outcomes):
        raise RankbenchError(f"{len(plans)} rungs but {len(outcomes)} outcomes")
    return run_fixed_sequence([Rung(p) for p in plans], lambda i: outcomes[i], **kwargs)


def _with(rung: Rung, outcome: RungOutcome | None, *, evaluated: bool, in_claim: bool, status: str) -> Rung:
    return Rung(
        plan=rung.plan,
        ranks=rung.ranks,
        parameters=rung.parameters,
        verdict=None if outcome is None else outcome.verdict,
        interval=None if outcome is None else outcome.interval,
        evaluated=evaluated,
        in_claim=in_claim,
        status=status,
    )


def _result(rungs, tolerance, confidence, evaluate_all, removed, max_rank) -> LadderResult:
    passed = [r for r in rungs if r.status == PASSED]
    smallest = passed[-1].plan if passed else None
    alpha = round((1.0 - confidence) / 2.0, 12)
    return LadderResult(
        order=tuple(r.plan for r in rungs),
        rungs=tuple(rungs),
        smallest_safe=smallest,
        alpha=alpha,
        confidence=confidence,
        tolerance=tolerance,
        claim=claim_sentence(rungs, smallest, tolerance, alpha),
        procedure=PROCEDURE,
        evaluated=sum(r.evaluated for r in rungs),
        not_evaluated=sum(not r.evaluated for r in rungs),
        evaluate_all=evaluate_all,
        removed_by_cap=removed,
        max_rank=max_rank,
    )


def claim_sentence(
    rungs: Sequence[Rung], smallest: str | None, tolerance: float, alpha: float, reference: str = "the probe"
) -> str:
    """One sentence: the smallest safe rung and what the claim means, or that nothing passed."""
    skipped = sum(not r.evaluated for r in rungs)
    tail = f"; {skipped} smaller rung(s) not evaluated" if skipped else ""
    if smallest is None:
        return (
            f"No rung is claimed: the largest, {rungs[0].plan}, was not shown non-inferior at tolerance "
            f"{tolerance:g}, so the fixed sequence stops there{tail}."
        )
    return (
        f"{smallest} is the smallest safe rung: non-inferior to {reference} at tolerance {tolerance:g}, "
        f"family-wise false-PASS risk ≤ {alpha:.3g} over all {len(rungs)} rungs (fixed-sequence test, "
        f"largest first{tail})."
    )


def default_ladder(probe_rank: int, allowed: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256)) -> list[str]:
    """The default rungs: the allowed uniform ranks below the probe's, largest first (r=16: 8, 4, 2, 1)."""
    if isinstance(probe_rank, bool) or not isinstance(probe_rank, int) or probe_rank < 2:
        raise RankbenchError(
            f"a ladder needs a probe rank ≥ 2 to go below, got {probe_rank!r}",
            hint="train the probe at a larger rank, or list the rungs yourself",
        )
    return [f"rank:{r}" for r in sorted({r for r in allowed if r < probe_rank}, reverse=True)]


def policy_outcome(policy: Any, variant_stats: Mapping[str, Any]) -> RungOutcome:
    """A campaign rung from its aggregate block: the claim policy over its seeds decides the rung."""
    from rankbench.stats.policy import evaluate_policy  # noqa: PLC0415 - policy reads YAML; keep it lazy

    return rung_outcome_from_policy(
        evaluate_policy(policy, dict(variant_stats)), variant_stats.get("decision_ci")
    )


def rung_outcome_from_policy(policy_result: Any, decision_ci: Mapping[str, Any] | None) -> RungOutcome:
    """A campaign rung: PASS iff the claim policy passes over its seeds; the decision interval decides."""
    return RungOutcome(
        "PASS" if policy_result.passed else "FAIL", None if decision_ci is None else dict(decision_ci)
    )
