"""Plans from (synthetic) audits: rounding, counts, energy, alpha policy, PEFT config, errors."""

import json
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from rankbench.errors import RankbenchError
from rankbench.suggest.plans import Plan, make_plan, pattern_key, plan_from_ranks

RULE = "stable_rank"


def spectrum(k, r):
    """r singular values of which exactly the first k are non-zero (and equal): stable_rank picks k."""
    s = np.zeros(r)
    s[:k] = 1.0
    return s


def audit_of(ks, r=64, shape=(32, 48), alpha=16.0, rslora=False, other=()):
    modules = []
    for i, k in enumerate(ks):
        rr = r[i] if isinstance(r, list) else r
        scale = alpha / (math.sqrt(rr) if rslora else rr)
        modules.append(
            SimpleNamespace(
                name=f"model.layers.{i}.mlp.up_proj",
                r=rr,
                alpha=alpha,
                scale=scale,
                shape=shape,
                singular_values=tuple(scale * spectrum(k, rr)),
            )
        )
    others = [SimpleNamespace(numel=n) for n in other]
    return SimpleNamespace(modules=modules, adapter=SimpleNamespace(use_rslora=rslora, other_tensors=others))


def test_uniform_median_rounds_up_to_the_allowed_set():
    audit = audit_of([1, 2, 3, 5, 40])
    plan = make_plan("uniform_median", audit, rule=RULE)
    assert plan.rule_ranks == dict(zip(plan.ranks, [1, 2, 3, 5, 40], strict=True))
    assert plan.uniform_rank == 4 and set(plan.ranks.values()) == {4}
    assert plan.rule == "stable_rank" and plan.allowed_ranks == [1, 2, 4, 8, 16, 32, 64]


def test_uniform_rank_is_never_silently_capped():
    audit = audit_of([40, 40, 40])
    assert make_plan("uniform_median", audit, rule=RULE).uniform_rank == 64
    assert make_plan("uniform_median", audit, rule=RULE, allowed_ranks=[16, 32, 48]).uniform_rank == 48
    assert (
        make_plan("uniform_median", audit, rule=RULE, allowed_ranks=[16, 32]).uniform_rank == 64
    )  # r itself


def test_uniform_p90_uses_linear_percentile():
    plan = make_plan("uniform_p90", audit_of([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), rule=RULE)
    assert float(np.percentile(list(range(1, 12)), 90)) == 10.0
    assert plan.uniform_rank == 16


def test_uniform_keeps_a_smaller_module_rank():
    plan = make_plan("uniform_median", audit_of([30, 30, 30], r=[64, 64, 16]), rule=RULE)
    assert plan.uniform_rank == 32
    assert list(plan.ranks.values()) == [32, 32, 16]


def test_per_layer_lists_every_module():
    audit = audit_of([1, 3, 5, 40, 64])
    plan = make_plan("per_layer", audit, rule=RULE)
    assert list(plan.ranks.values()) == [1, 4, 8, 64, 64]
    assert plan.uniform_rank is None and len(plan.ranks) == 5


def test_counts_cover_lora_matrices_only():
    audit = audit_of([1, 3], r=8, shape=(32, 48), other=(1000, 24))
    plan = make_plan("rank:2", audit)
    assert plan.source_lora_params == 2 * 8 * (32 + 48)
    assert plan.lora_params == 2 * 2 * (32 + 48)
    assert plan.param_reduction == pytest.approx(0.75)
    assert plan.other_params == 1024


def test_discarded_energy_is_the_dropped_sigma_squared():
    s = [[4.0, 3.0, 0.0, 0.0], [2.0, 1.0, 1.0, 0.0]]
    audit = audit_of([1, 1], r=4, alpha=4.0)
    for m, values in zip(audit.modules, s, strict=True):
        m.singular_values = tuple(values)
    plan = make_plan("rank:1", audit)
    assert plan.module_discarded_energy == {audit.modules[0].name: 9.0, audit.modules[1].name: 2.0}
    assert plan.discarded_energy == 11.0 and plan.total_energy == 31.0
    assert plan.discarded_energy_fraction == pytest.approx(11 / 31)


def test_budget_plan_is_within_budget_and_reports_its_solver():
    rng = np.random.default_rng(0)
    audit = audit_of([8, 8, 8], r=8)
    for m in audit.modules:
        m.singular_values = tuple(np.sort(rng.exponential(size=8))[::-1])
    plan = make_plan("budget:0.5", audit)
    assert plan.lora_params <= plan.budget_params == math.floor(0.5 * plan.source_lora_params)
    assert plan.budget_solver == "exact" and plan.budget_gap == 0.0
    assert make_plan("budget_params:300", audit).lora_params <= 300


@pytest.mark.parametrize("rslora", [False, True])
def test_keep_scale_keeps_every_module_scale(rslora):
    audit = audit_of([3, 10], r=16, alpha=32.0, rslora=rslora)
    plan = make_plan("rank:4", audit)
    assert plan.use_rslora is rslora and plan.alpha_policy == "keep_scale"
    expected_alpha = 32.0 * (math.sqrt(4 / 16) if rslora else 4 / 16)
    for m in audit.modules:
        assert plan.alphas[m.name] == pytest.approx(expected_alpha)
        assert plan.scale_of(m.name) == pytest.approx(m.scale, rel=1e-15)


def test_keep_alpha_keeps_alpha_and_changes_scale():
    audit = audit_of([3, 10], r=16, alpha=32.0)
    plan = make_plan("rank:4", audit, alpha_policy="keep_alpha")
    assert set(plan.alphas.values()) == {32.0}
    assert plan.scale_of(audit.modules[0].name) == 8.0


def test_rslora_is_inferred_from_scales_when_the_audit_does_not_say():
    audit = audit_of([3], r=16, alpha=32.0, rslora=True)
    del audit.adapter
    assert make_plan("rank:4", audit).use_rslora is True


def test_plan_round_trips_through_json():
    plan = make_plan("budget:0.4", audit_of([3, 10, 20], r=32))
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan


def test_peft_config_for_a_uniform_plan_has_no_patterns():
    source = {
        "r": 64,
        "lora_alpha": 16,
        "target_modules": ["up_proj"],
        "rank_pattern": {"up_proj": 64},
        "x": 1,
    }
    cfg = make_plan("rank:8", audit_of([3, 10])).peft_config_update(source)
    assert (cfg["r"], cfg["lora_alpha"], cfg["rank_pattern"], cfg["alpha_pattern"]) == (8, 2, {}, {})
    assert cfg["target_modules"] == ["up_proj"] and cfg["x"] == 1
    assert source["rank_pattern"] == {"up_proj": 64}  # not modified


def test_peft_config_for_a_per_layer_plan_lists_every_module_by_exact_key():
    audit = audit_of([1, 3, 5, 40] * 3)  # 12 modules: layers.1 vs layers.11
    plan = make_plan("per_layer", audit, rule=RULE)
    cfg = plan.peft_config_update({"r": 64, "lora_alpha": 16})
    names = [m.name for m in audit.modules]
    assert len(cfg["rank_pattern"]) == len(cfg["alpha_pattern"]) == 12
    for name in names:
        key = pattern_key(name)
        assert cfg["rank_pattern"][key] == plan.ranks[name]
        assert cfg["alpha_pattern"][key] == pytest.approx(plan.alphas[name])


def test_pattern_key_matches_exactly_one_module_under_peft_rules():
    names = [
        "model.layers.1.mlp.up_proj",
        "model.layers.11.mlp.up_proj",
        "encoder.model.layers.1.mlp.up_proj",
        "model.layers.1xmlp.up_proj",
    ]

    def peft_matches(key):  # peft.utils.other.get_pattern_key's test, in 0.21
        return [n for n in names if re.match(rf"(.*\.)?({key})$", n)]

    assert peft_matches("model.layers.1.mlp.up_proj") == [names[0], names[2], names[3]]  # the hazard
    for name in names:
        assert peft_matches(pattern_key(name)) == [name]
    assert pattern_key(names[0]) == r"^model\.layers\.1\.mlp\.up_proj"


def test_plan_from_ranks_checks_every_module():
    audit = audit_of([3, 10], r=16)
    a, b = (m.name for m in audit.modules)
    plan = plan_from_ranks("per_layer_shuffled", {a: 10, b: 3}, audit)
    assert plan.ranks == {a: 10, b: 3} and plan.rule is None
    with pytest.raises(
        RankbenchError, match=rf"^error: rank 17 for module {re.escape(b)} is outside \[1, 16\]"
    ):
        plan_from_ranks("x", {a: 1, b: 17}, audit)
    with pytest.raises(RankbenchError, match=r"^error: plan 'x' leaves modules without a rank: "):
        plan_from_ranks("x", {a: 1}, audit)
    with pytest.raises(
        RankbenchError, match=r"^error: plan 'x' names modules the adapter does not have: nope"
    ):
        plan_from_ranks("x", {a: 1, b: 1, "nope": 1}, audit)


@pytest.mark.parametrize(
    ("spec", "kw", "message"),
    [
        (
            "budget_params:100",
            {},
            r"^error: budget of 100 LoRA parameters is below the minimum of 240 "
            r"\(rank 1 for each of the 3 modules\)\nhint: raise the budget to at least 240 parameters$",
        ),
        ("budget:0.001", {}, r"^error: budget of 15 LoRA parameters is below the minimum of 240"),
        (
            "budget:1.5",
            {},
            r"^error: plan 'budget:1.5' needs a fraction of the current LoRA parameters in \(0, 1\]",
        ),
        (
            "rank:65",
            {},
            r"^error: rank 65 is above the adapter's r = 64\n"
            r"hint: a plan can only shrink an adapter: choose rank:K with K <= 64$",
        ),
        ("rank:0", {}, r"^error: plan 'rank:0' needs K as a positive integer"),
        (
            "uniform_mean",
            {},
            r"^error: unknown plan 'uniform_mean'\nhint: choose one of: uniform_median, "
            r"uniform_p90, per_layer, budget:FRACTION, budget_params:N, rank:K$",
        ),
        ("per_layer", {"rule": "energy:2"}, r"^error: rule energy needs tau as a fraction in \(0, 1\]"),
        ("per_layer", {"rule": "svd"}, r"^error: unknown rule 'svd'"),
        (
            "per_layer",
            {"allowed_ranks": [0, 8]},
            r"^error: allowed ranks must be positive integers, got \[0, 8\]",
        ),
        (
            "rank:8",
            {"alpha_policy": "double"},
            r"^error: unknown alpha policy 'double'\nhint: choose one of: "
            r"keep_scale, keep_alpha$",
        ),
    ],
)
def test_bad_plans_are_clear_errors(spec, kw, message):
    with pytest.raises(RankbenchError, match=message) as info:
        make_plan(spec, audit_of([3, 10, 20], r=64, shape=(40, 40)), **kw)
    assert info.value.exit_code == 2
