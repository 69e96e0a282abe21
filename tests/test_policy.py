"""The claim policy: the shipped YAML, user files, every error naming file and key, clause evaluation."""

from __future__ import annotations

import hashlib
from importlib.resources import files

import numpy as np
import pytest

from rankbench.artifacts.variant_block import aggregate_variant
from rankbench.errors import RankbenchError
from rankbench.stats import evaluate_policy, load_policy, parse_policy

SHIPPED = files("rankbench") / "data" / "policy_default.yaml"
VALID = """\
name: strict
version: 2
tolerance: 0.02
clauses:
  min_seeds: 5
  min_pass_rate: 1.0
  decision_ci_lower_gt: -tolerance
  min_power: null
  worst_seed_delta_min: -0.03
"""


def _stats(**overrides):
    """A variant block with only what the policy reads.

    decision se 0.003, df 4 → power T₄(0.01/0.003 − 2.776445) = T₄(0.556888) = 0.696355 (mpmath)."""
    stats = {
        "n_seeds": 3,
        "pass_rate": 2 / 3,
        "worst_seed_delta": -0.008,
        "tolerance": 0.01,
        "decision_ci": {"low": -0.009, "se": 0.003, "df": 4.0, "confidence": 0.95},
        "delta_ci_pooled": {"ci_low": -0.009},
    }
    stats.update(overrides)
    return stats


def _write(tmp_path, text, name="policy.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policy_is_read_from_the_package():
    policy = load_policy()
    assert (policy.name, policy.version, policy.tolerance) == ("rankbench-default", "3", None)
    assert policy.clauses == {
        "min_seeds": 3,
        "min_pass_rate": None,  # v3: each seed's own verdict is reported, not required
        "decision_ci_lower_gt": "-tolerance",
        "min_power": None,
        "worst_seed_delta_min": None,
        "pooled_ci_lower_gt": None,
    }
    assert policy.sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert policy.source.endswith("policy_default.yaml")
    assert set(policy.to_dict()) == {
        "name",
        "version",
        "description",
        "tolerance",
        "clauses",
        "source",
        "sha256",
    }


def test_user_file_is_actually_read(tmp_path):
    path = _write(tmp_path, VALID)
    policy = load_policy(path)
    assert (policy.name, policy.version, policy.tolerance, policy.source) == ("strict", "2", 0.02, str(path))
    assert policy.clauses["min_seeds"] == 5 and policy.clauses["min_power"] is None
    assert policy.clauses["worst_seed_delta_min"] == -0.03 and policy.clauses["pooled_ci_lower_gt"] is None
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_policy_passes_a_good_variant_hand_worked():
    # n_seeds 3 ≥ 3; decision low −0.009 > −0.01 (one seed in three passing alone does not matter)
    result = evaluate_policy(load_policy(), _stats(pass_rate=1 / 3))
    assert result.passed and result.failed == ()
    assert (result.tolerance, result.tolerance_source, result.policy) == (
        0.01,
        "bench",
        "rankbench-default v3",
    )
    texts = [c.text for c in result.clauses]
    assert texts == ["n_seeds = 3 ≥ 3: held", "decision_ci.low = -0.009 > -0.01: held"]


@pytest.mark.parametrize(
    ("passed", "seeds", "held"), [(2, 3, True), (1, 3, False), (3, 5, True), (2, 4, False), (2, 5, False)]
)
def test_the_pass_rate_rule_is_a_majority_of_seeds(passed, seeds, held):
    majority = parse_policy(
        {
            "name": "m",
            "version": 1,
            "clauses": {
                "min_seeds": 3,
                "min_pass_rate": "majority",
                "decision_ci_lower_gt": None,
                "min_power": None,
            },
        },  # fmt: skip
        source="test",
    )
    clause = evaluate_policy(majority, _stats(n_seeds=seeds, pass_rate=passed / seeds)).clauses[1]
    assert clause.clause == "min_pass_rate" and clause.held is held


def test_each_failing_clause_is_named():
    stats = _stats(n_seeds=2, pass_rate=1 / 2, decision_ci={"low": -0.011, "se": 0.01, "df": 1.0})
    result = evaluate_policy(load_policy(), stats)
    assert not result.passed
    assert result.failed == ("min_seeds", "decision_ci_lower_gt")
    assert result.clauses[1].text == "decision_ci.low = -0.011 > -0.01: FAILED"
    assert result.to_dict()["clauses"][0] == {
        "clause": "min_seeds",
        "quantity": "n_seeds",
        "op": "≥",
        "threshold": 3.0,
        "observed": 2.0,
        "held": False,
        "text": "n_seeds = 2 ≥ 3: FAILED",
    }


def test_boundaries_rounding_and_strictness(tmp_path):
    # The decision clause is strict: low = −0.01 exactly is not > −0.01.
    stats = _stats(decision_ci={"low": -0.01, "se": 0.003, "df": 4.0})
    assert evaluate_policy(load_policy(), stats).failed == ("decision_ci_lower_gt",)
    # Δ = 0.82 − 0.83 = −0.010000000000000009 in floating point: "≥ −0.01" holds within 1e-12.
    old = load_policy(
        _write(tmp_path, VALID.replace("-0.03", "-tolerance").replace("tolerance: 0.02", "tolerance: 0.01"))
    )
    clause = evaluate_policy(old, _stats(worst_seed_delta=0.82 - 0.83)).clauses[-1]
    assert clause.clause == "worst_seed_delta_min" and clause.held


def test_policy_tolerance_overrides_the_bench_and_power_is_recomputed(tmp_path):
    # tolerance 0.02 from the policy: decision low −0.009 > −0.02; worst −0.008 ≥ −0.03; power off.
    policy = load_policy(_write(tmp_path, VALID))
    result = evaluate_policy(policy, _stats(n_seeds=5, pass_rate=1.0))
    assert result.passed and (result.tolerance, result.tolerance_source) == (0.02, "policy")
    assert [c.clause for c in result.clauses] == [
        "min_seeds",
        "min_pass_rate",
        "decision_ci_lower_gt",
        "worst_seed_delta_min",
    ]
    # With the power clause on, power is at the policy's tolerance with the decision interval's t:
    # T₄(0.02/0.003 − 2.776445) = T₄(3.890222) = 0.991156 (mpmath); at the bench's 0.01 it is 0.696355
    on = load_policy(_write(tmp_path, VALID.replace("min_power: null", "min_power: 0.8"), "on.yaml"))
    clause = next(
        c for c in evaluate_policy(on, _stats(n_seeds=5, pass_rate=1.0)).clauses if c.clause == "min_power"
    )
    assert clause.observed == pytest.approx(0.991156, abs=1e-6) and clause.held
    bench_tol = on.__class__(**{**on.__dict__, "tolerance": None})
    clause = next(
        c
        for c in evaluate_policy(bench_tol, _stats(n_seeds=5, pass_rate=1.0)).clauses
        if c.clause == "min_power"
    )
    assert clause.observed == pytest.approx(0.696355, abs=1e-6) and not clause.held


def test_unavailable_observations_do_not_hold(tmp_path):
    on = load_policy(_write(tmp_path, VALID.replace("min_power: null", "min_power: 0.8")))
    stats = _stats(decision_ci={"low": None, "se": None, "df": None}, n_seeds=5, pass_rate=1.0)
    result = evaluate_policy(on, stats)
    assert result.failed == ("decision_ci_lower_gt", "min_power")
    assert result.clauses[3].text == "power = unavailable ≥ 0.8: FAILED"


def test_evaluates_a_real_aggregate_block():
    rng = np.random.default_rng(0)
    records = []
    for seed in (1, 2, 3):
        probe = (rng.random(2000) < 0.8).astype(float)
        variant = probe.copy()  # the compressed adapter changes nothing
        records.append(
            {
                "seed": seed,
                "accuracy": variant.mean(),
                "delta_vs_probe": 0.0,
                "param_reduction": 0.5,
                "verdict": "PASS",
                "probe_scores": probe,
                "variant_scores": variant,
            }
        )
    result = evaluate_policy(load_policy(), aggregate_variant(records, tolerance=0.01, n_boot=200))
    assert result.passed, [c.text for c in result.clauses]


def test_missing_statistics_are_named():
    stats = _stats()
    del stats["decision_ci"]
    with pytest.raises(RankbenchError, match=r"variant statistics lack 'decision_ci.low'"):
        evaluate_policy(load_policy(), stats)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RankbenchError, match=r"nope.yaml: policy file not found") as info:
        load_policy(missing)
    assert info.value.path == str(missing)


def test_a_directory_is_not_a_policy(tmp_path):
    with pytest.raises(RankbenchError, match=r"cannot read the policy file"):
        load_policy(tmp_path)


def test_malformed_yaml_names_the_file(tmp_path):
    path = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(RankbenchError, match=r"policy.yaml: policy is not valid YAML"):
        load_policy(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID + "colour: blue\n", r"unknown key 'colour'"),
        (
            VALID.replace("min_pass_rate", "min_pass_rat"),
            r"unknown key 'clauses.min_pass_rat' \(did you mean 'min_pass_rate'\?\); "
            r"missing key 'clauses.min_pass_rate' \(write null to switch the clause off\)",
        ),
        (VALID.replace("name: strict\n", ""), r"missing key 'name'"),
        (
            VALID.replace("min_seeds: 5", "min_seeds: 2.5"),
            r"clauses.min_seeds must be an integer ≥ 1 or null",
        ),
        (
            VALID.replace("min_pass_rate: 1.0", "min_pass_rate: 1.5"),
            r"clauses.min_pass_rate must be a number in \[0, 1\] or null, got 1.5",
        ),
        (
            VALID.replace("min_pass_rate: 1.0", "min_pass_rate: most"),
            r"clauses.min_pass_rate must be a number in \[0, 1\], 'majority' or null, got 'most'",
        ),
        (
            VALID.replace("-0.03", "tolerance"),
            r"clauses.worst_seed_delta_min must be a number, '-tolerance' or null, got 'tolerance'",
        ),
        (VALID.replace("tolerance: 0.02", "tolerance: -1"), r"'tolerance' must be a number ≥ 0 or null"),
        (VALID.replace("version: 2", "version: true"), r"'version' must be a string or an integer"),
        ("- a\n- list\n", r"a policy must be a YAML mapping of keys, got list"),
        ("name: x\nversion: 1\nclauses: [1]\n", r"'clauses' must be a mapping of clause keys, got list"),
    ],
)
def test_invalid_policies_name_file_and_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(RankbenchError, match=message) as info:
        load_policy(path)
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert "policy_default.yaml" in info.value.hint


def test_all_problems_are_reported_at_once():
    data = {"name": "", "version": 1, "clauses": {"min_seeds": 0, "min_power": 2}}
    with pytest.raises(RankbenchError) as info:
        parse_policy(data, source="inline")
    message = info.value.message
    for part in (
        "'name' must be a non-empty string",
        "clauses.min_seeds must be",
        "clauses.min_power must be",
        "missing key 'clauses.min_pass_rate'",
        "missing key 'clauses.decision_ci_lower_gt'",
    ):
        assert part in message
