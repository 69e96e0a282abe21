"""`rankbench plan` and stats.power.plan_items: the items a bench needs, against exact enumeration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rankbench.cli import main
from rankbench.errors import RankbenchError
from rankbench.stats.exact import verdict_critical_value
from rankbench.stats.power import discordance_estimate, plan_items, single_seed_power
from rankbench.stats.tango import score_statistic


def exact_power(n: int, p: float, tol: float) -> float:
    """P(the single-seed verdict PASSes | Δ = 0), summed over every (b, c) with its trinomial weight."""
    lf = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = b + c <= n
    b, c = b[keep], c[keep]
    logp = lf[n] - lf[b] - lf[c] - lf[n - b - c] + (b + c) * math.log(p / 2) + (n - b - c) * math.log1p(-p)
    passes = score_statistic(b, c, n, -tol) >= verdict_critical_value(n, tol)
    return float(np.exp(logp)[passes].sum())


def test_the_single_seed_plan_gives_the_power_the_exact_verdict_has():
    plan = plan_items(0.05, 0.05, seeds=1)  # small n so that every table can be enumerated
    assert plan.items_per_seed == plan.total_items and plan.achieved_power >= 0.8
    assert single_seed_power(plan.items_per_seed - 1, 0.05, 0.05) < 0.8  # the smallest such n
    assert exact_power(plan.items_per_seed, 0.05, 0.05) == pytest.approx(0.8, abs=0.03)


def test_more_seeds_need_fewer_items_each_and_seed_noise_can_make_it_unreachable():
    three, five, ten = (plan_items(0.02, 0.01, seeds=s) for s in (3, 5, 10))
    assert three.items_per_seed > five.items_per_seed > ten.items_per_seed
    assert all(p.achieved_power >= 0.8 for p in (three, five, ten))
    noisy = plan_items(0.08, 0.01, seeds=3, seed_sd=0.01)
    assert noisy.items_per_seed is None and "add seeds" in noisy.notes[0]
    assert discordance_estimate(30, 10, 2000) == 0.02


def test_plan_prints_items_times_seeds(capsys):
    assert main(["plan", "--discordance", "0.02", "--tolerance", "0.01", "--seeds", "5"]) == 0
    out = capsys.readouterr().out
    plan = plan_items(0.02, 0.01, seeds=5)
    row = f"    5  {plan.items_per_seed:>10,}  {plan.total_items:>11,}  {plan.achieved_power:>5.3f}"
    assert row in out.splitlines() and "decision interval over 5 seeds" in out
    assert main(["plan", "--discordance", "0.02", "--tolerance", "0.01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["seeds"] for p in data] == [1, 3, 5, 10] and data[0]["items_per_seed"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--discordance", "1.5", "--tolerance", "0.01"], "discordance must be in (0, 1], got 1.5"),
        (["--discordance", "0.02", "--tolerance", "0"], "tolerance must be in (0, 1), got 0"),
        (
            ["--discordance", "0.02", "--tolerance", "0.01", "--seeds", "0"],
            "seeds must be an integer ≥ 1, got 0",
        ),
        (
            ["--discordance", "0.02", "--tolerance", "0.01", "--alpha", "2"],
            "--alpha must be in (0, 1), got 2",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(args, message, capsys):
    assert main(["plan", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "hint: " in err and "Traceback" not in err


def test_plan_items_raises_a_rankbench_error():
    with pytest.raises(RankbenchError, match="discordance must be in"):
        plan_items(0.0, 0.01)
