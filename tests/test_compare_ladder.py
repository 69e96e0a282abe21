"""`rankbench compare --ladder`: candidates listed largest first, tested in that fixed sequence."""

from __future__ import annotations

import json

import pytest

from rankbench.cli import main
from rankbench.stats.ladder import LadderResult

DATA = "tests/data/lm_eval"
BASE, R2, R1 = f"{DATA}/lora_r8", f"{DATA}/lora_r2", f"{DATA}/lora_r1"
GEN = ["--task", "rb_gen", "--filter", "first-char"]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def test_the_ladder_stops_at_the_first_failure(capsys):
    # at tolerance 0.05 lora_r2 FAILs and lora_r1 PASSes on its own (see test_compare_cli's README table)
    assert main(["compare", BASE, R2, R1, *GEN, "--tolerance", "0.05", "--ladder", "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    ladder = LadderResult.from_dict(doc["ladder"])
    assert [c["verdict"] for c in doc["comparisons"]] == ["FAIL", "PASS"]
    assert [r.status for r in ladder.rungs] == ["failed", "not evaluated"]
    assert ladder.smallest_safe is None and ladder.order == (R2, R1) and ladder.not_evaluated == 1
    assert ladder.rungs[0].interval["low"] == doc["comparisons"][0]["ci"]["low"]
    assert "claim: No rung is claimed: the largest, tests/data/lm_eval/lora_r2" in err
    assert any(n.startswith("ladder: the candidates were taken as listed") for n in doc["notes"])


def test_evaluate_all_shows_the_rest_outside_the_claim(capsys):
    args = ["compare", BASE, R2, R1, *GEN, "--tolerance", "0.05", "--ladder", "--evaluate-all"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"  2. {R1}  PASS  outside the claim" in out.splitlines()


def test_a_passing_ladder_claims_the_smallest(capsys):
    assert main(["compare", BASE, R2, R1, *GEN, "--tolerance", "0.2", "--ladder"]) == 0
    out = capsys.readouterr().out
    assert f"claim: {R1} is the smallest safe rung: non-inferior to the baseline at tolerance 0.2" in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--evaluate-all"], "--evaluate-all needs --ladder"), (["--ladder", "--holm"], "choose one")],
)
def test_bad_flag_combinations_exit_2(flags, message, capsys):
    assert main(["compare", BASE, R2, R1, *GEN, *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "hint: " in err and "Traceback" not in err
