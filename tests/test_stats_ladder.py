"""The ladder's fixed-sequence test: order, stopping, the claim, --evaluate-all, caps and the record."""

from __future__ import annotations

import json

import pytest

from rankbench.errors import RankbenchError
from rankbench.stats import load_policy
from rankbench.stats.ladder import (
    FAILED,
    NOT_EVALUATED,
    OUTSIDE,
    PASSED,
    LadderResult,
    Rung,
    RungOutcome,
    cap_rungs,
    check_order,
    default_ladder,
    fixed_sequence_from_verdicts,
    policy_outcome,
    run_fixed_sequence,
    rung_outcome_from_policy,
)
from rankbench.stats.policy import evaluate_policy

PLANS = ["rank:8", "rank:4", "rank:2", "rank:1"]


def _recording(verdicts):
    calls = []

    def evaluate(i):
        calls.append(i)
        return RungOutcome(verdicts[i], {"low": -0.005 if verdicts[i] == "PASS" else -0.02})

    return calls, evaluate


def test_the_sequence_stops_at_the_first_failure_and_evaluates_nothing_after_it():
    calls, evaluate = _recording(["PASS", "PASS", "FAIL", "PASS"])
    result = run_fixed_sequence([Rung(p) for p in PLANS], evaluate, tolerance=0.01)
    assert calls == [0, 1, 2]  # rank:1 is never evaluated, although it would have passed
    assert [r.status for r in result.rungs] == [PASSED, PASSED, FAILED, NOT_EVALUATED]
    assert [r.evaluated for r in result.rungs] == [True, True, True, False]
    assert result.rungs[3].verdict is None and result.rungs[3].interval is None
    assert result.smallest_safe == "rank:4" and (result.evaluated, result.not_evaluated) == (3, 1)
    assert result.alpha == 0.025 and result.order == tuple(PLANS)
    assert result.claim.startswith(
        "rank:4 is the smallest safe rung: non-inferior to the probe at tolerance 0.01"
    )
    assert "≤ 0.025 over all 4 rungs" in result.claim and "1 smaller rung(s) not evaluated" in result.claim


def test_evaluate_all_marks_the_rungs_after_the_failure_outside_the_claim():
    calls, evaluate = _recording(["PASS", "FAIL", "PASS", "PASS"])
    result = run_fixed_sequence([Rung(p) for p in PLANS], evaluate, tolerance=0.01, evaluate_all=True)
    assert calls == [0, 1, 2, 3]
    assert [r.status for r in result.rungs] == [PASSED, FAILED, OUTSIDE, OUTSIDE]
    assert [r.in_claim for r in result.rungs] == [True, True, False, False]
    assert result.rungs[3].verdict == "PASS"  # its verdict is shown, but it does not move the claim
    assert result.smallest_safe == "rank:8" and result.not_evaluated == 0 and result.evaluate_all


def test_a_failing_first_rung_claims_nothing():
    calls, evaluate = _recording(["FAIL", "PASS", "PASS", "PASS"])
    result = run_fixed_sequence([Rung(p) for p in PLANS], evaluate, tolerance=0.02)
    assert calls == [0] and result.smallest_safe is None
    assert result.claim.startswith("No rung is claimed: the largest, rank:8, was not shown non-inferior")


def test_every_rung_passing_claims_the_last():
    result = fixed_sequence_from_verdicts(PLANS, [RungOutcome("PASS")] * 4, tolerance=0.01)
    assert result.smallest_safe == "rank:1" and "not evaluated" not in result.claim


def test_a_cap_removes_the_rungs_above_it():
    assert cap_rungs([16, 8, 4, 2, 1], 4) == ([2, 3, 4], [0, 1])
    assert cap_rungs([16, 8], None) == ([0, 1], [])
    assert cap_rungs([16, 8], 1) == ([], [0, 1])
    with pytest.raises(RankbenchError, match=r"max_rank must be an integer ≥ 1, got 0"):
        cap_rungs([4], 0)


def test_the_order_is_checked():
    check_order(PLANS, [8, 4, 2, 1])
    with pytest.raises(RankbenchError, match=r"largest to smallest, but rank:8 \(8\) follows rank:4 \(4\)"):
        check_order(["rank:4", "rank:8"], [4, 8])
    with pytest.raises(RankbenchError, match=r"listed twice: rank:4"):
        check_order(["rank:4", "rank:4"])
    with pytest.raises(RankbenchError, match="the ladder has no rungs"):
        check_order([])
    with pytest.raises(RankbenchError, match="expected PASS or FAIL"):
        run_fixed_sequence([Rung("rank:1")], lambda i: RungOutcome("MAYBE"), tolerance=0.01)


def test_the_record_round_trips_through_json():
    rungs = [Rung("rank:8", ranks={"q": 8, "v": 8}, parameters=1024), Rung("rank:4", {"q": 4, "v": 4}, 512)]
    result = run_fixed_sequence(
        rungs, lambda i: RungOutcome("PASS", {"low": -0.001}), tolerance=0.01,
        removed_by_cap=("rank:16",), max_rank=8,
    )  # fmt: skip
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) >= {"order", "rungs", "smallest_safe", "alpha", "tolerance", "claim"}
    assert set(data["rungs"][0]) >= {"plan", "ranks", "parameters", "verdict", "interval", "evaluated"}
    assert LadderResult.from_dict(data) == result
    with pytest.raises(RankbenchError, match="unknown key"):
        LadderResult.from_dict({**data, "extra": 1})


def test_a_campaign_rung_passes_when_the_policy_does():
    stats = {
        "n_seeds": 3, "pass_rate": 1 / 3, "tolerance": 0.01,
        "decision_ci": {"low": -0.009, "high": 0.01, "se": 0.004, "df": 2.0, "confidence": 0.95},
    }  # fmt: skip
    low = {**stats, "decision_ci": {**stats["decision_ci"], "low": -0.012}}
    outcomes = [
        rung_outcome_from_policy(evaluate_policy(load_policy(), s), s["decision_ci"]) for s in (stats, low)
    ]
    assert [o.verdict for o in outcomes] == ["PASS", "FAIL"] and outcomes[1].interval["low"] == -0.012
    result = fixed_sequence_from_verdicts(
        ["rank:4", "rank:2", "rank:1"], [*outcomes, RungOutcome("PASS")], tolerance=0.01
    )
    assert result.smallest_safe == "rank:4" and result.rungs[2].status == NOT_EVALUATED


def test_the_default_ladder_is_the_allowed_ranks_below_the_probe():
    assert default_ladder(16) == ["rank:8", "rank:4", "rank:2", "rank:1"]
    assert default_ladder(12) == ["rank:8", "rank:4", "rank:2", "rank:1"]
    assert default_ladder(2) == ["rank:1"]
    with pytest.raises(RankbenchError, match="a ladder needs a probe rank ≥ 2"):
        default_ladder(1)


def test_a_campaign_ladder_reads_each_rung_from_its_aggregate_block():
    block = {
        "n_seeds": 3, "pass_rate": 0.0, "tolerance": 0.01,
        "decision_ci": {"low": -0.004, "high": 0.01, "se": 0.003, "df": 2.0, "confidence": 0.95},
    }  # fmt: skip
    failing = {**block, "n_seeds": 2}
    blocks = [block, failing, block]
    result = run_fixed_sequence(
        [Rung(p) for p in ("rank:4", "rank:2", "rank:1")],
        lambda i: policy_outcome(load_policy(), blocks[i]),
        tolerance=0.01,
    )
    assert [r.status for r in result.rungs] == [PASSED, FAILED, NOT_EVALUATED]
    assert result.rungs[0].interval["low"] == -0.004 and result.smallest_safe == "rank:4"
