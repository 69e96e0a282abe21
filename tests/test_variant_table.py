"""The variant table: a new variant is one row, and the run folder's stage order has one home."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.peft_fixtures import lora_config, random_pairs, write_adapter
from rankbench import run_layout
from rankbench.bench import protocol, variants
from rankbench.bench.config import BenchConfig, validate
from rankbench.bench.runstate import RunDir

PROBE_R = 8


@pytest.fixture
def probe_run(tmp_path):
    """A run folder whose probe is a numpy-written PEFT adapter (3 modules at r=8), audited and planned
    by the protocol's own stages, as a bench would before its variants."""
    adapter = tmp_path / "run" / run_layout.PROBE / run_layout.ADAPTER_DIR
    write_adapter(
        adapter, random_pairs(np.random.default_rng(0), n=3, r=PROBE_R), config=lora_config(r=PROBE_R)
    )

    def bench(cfg: BenchConfig) -> protocol.BenchRun:
        return protocol.BenchRun(cfg=cfg, run=RunDir(tmp_path / "run"), cache_dir=tmp_path / "cache")

    return bench


@pytest.fixture
def rank_2_row(monkeypatch):
    """One new row: the candidate plan ``rank:2`` (the form a ladder rung takes), truncated."""
    (row,) = variants.rows_from_plan_specs(["rank:2"])
    monkeypatch.setitem(variants.VARIANT_TABLE, row.name, row)
    return row


def test_a_row_built_from_a_plan_spec_is_a_truncated_candidate():
    (row,) = variants.rows_from_plan_specs(["budget:0.5"])
    assert row == variants.VariantRow("budget_0.5", "budget:0.5")
    assert (row.plan_name, row.derive, row.compress, row.control) == (
        "budget:0.5",
        "identity",
        "truncate",
        False,
    )


def test_a_variant_added_by_one_row_is_configured_planned_and_built(probe_run, rank_2_row):
    from rankbench.auditor import audit

    cfg = BenchConfig()  # the default variants are every row of the table
    assert cfg.compression.variants[-1] == "rank_2" and validate(cfg) == []
    jobs = variants.variant_jobs(cfg.compression)
    assert jobs[-1] == variants.VariantJob("rank_2", "rank_2", "truncate")
    assert jobs[-1].stage == "variants/rank_2" and jobs[-1].row is rank_2_row
    stages = run_layout.seed_stages(j.key for j in jobs)
    assert stages[:5] == ("provenance", "probe", "probe_eval", "audit", "plans")
    assert stages[-1] == "variants/rank_2"

    b = probe_run(cfg)
    protocol.stage_audit(b)
    assert "rank:2" in protocol.stage_plans(b)["plan_names"]
    plan = protocol.load_plans(b)[jobs[-1].row.plan_name]
    assert set(plan.ranks.values()) == {2}
    assert protocol.role_of(jobs[-1], plan) == "compression"

    out = b.run.root / jobs[-1].stage
    protocol._truncate(b, jobs[-1], plan, out)
    source = {m.name: m.singular_values for m in audit(b.probe_adapter(), workers=1).modules}
    written = {m.name: m.singular_values for m in audit(out / run_layout.ADAPTER_DIR, workers=1).modules}
    assert sorted(written) == sorted(source) and len(written) == 3
    for name, sv in written.items():  # rank 2, the best rank-2 part of the probe (Eckart–Young)
        assert len(sv) == 2
        np.testing.assert_allclose(sv, source[name][:2], rtol=1e-5)


def test_a_control_row_reads_its_derivation_and_method_from_the_table(probe_run, monkeypatch):
    """A new control: uniform_p90's ranks shuffled across modules and cut to a random subspace."""
    row = variants.VariantRow(
        "p90_shuffled_random", "uniform_p90", derive="shuffled", compress="random_subspace", control=True
    )
    monkeypatch.setitem(variants.VARIANT_TABLE, row.name, row)
    cfg = BenchConfig()
    cfg.compression.variants = [row.name]
    b = probe_run(cfg)
    protocol.stage_audit(b)
    protocol.stage_plans(b)
    plans = protocol.load_plans(b)
    assert sorted(plans) == sorted([*variants.DEFAULT_PLANS, row.name])
    assert sorted(plans[row.name].ranks.values()) == sorted(plans["uniform_p90"].ranks.values())
    (job,) = variants.variant_jobs(cfg.compression)
    assert protocol.role_of(job, plans[row.name]) == "control"
    assert variants.control_names()[-1] == row.name


def test_the_stage_order_is_the_prefix_then_the_variants():
    assert run_layout.seed_stages([]) == run_layout.PREFIX_STAGES
    assert run_layout.seed_stages(["a", "b_retrain"]) == (
        *run_layout.PREFIX_STAGES,
        "variants/a",
        "variants/b_retrain",
    )
    assert run_layout.GATE_STAGE in run_layout.PREFIX_STAGES
