"""The lm_eval evaluator against lm-eval itself: the same per-item scores, the same 2×2 table.

lm-eval runs here as a user runs it (its CLI, ``--model hf --model_args pretrained=...,peft=...
--log_samples``) on the same saved adapter folders; the test counts the table from its samples files
with plain JSON, not through rankbench's reader. The tasks are the compare fixtures' local tasks
(``tests/data/lm_eval/tasks``: multiple choice with acc/acc_norm, generation with two regex filters).
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("lm_eval")

from helpers.lm_eval_world import build_world, lm_eval_samples, running_in_fixtures  # noqa: E402
from rankbench.bench.evaluators.lm_eval import LmEvalEvaluator, LmEvalSettings  # noqa: E402
from rankbench.stats import paired_delta  # noqa: E402


@pytest.fixture(scope="module")
def in_fixtures():
    with running_in_fixtures() as folder:
        yield folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("lmeval_world"))


@pytest.fixture(scope="module")
def lm_eval_logs(world, in_fixtures, tmp_path_factory):
    out = tmp_path_factory.mktemp("lmeval_out")
    return {
        name: lm_eval_samples(world.base, getattr(world, name), out / name, ("rb_mc", "rb_gen"))
        for name in ("r8", "r2")
    }


@pytest.fixture(scope="module")
def evaluated(world, in_fixtures):
    ev = LmEvalEvaluator(LmEvalSettings(tasks=("tasks/rb_mc.yaml", "rb_gen"), metric="acc"), base=world.base)
    return ev, {name: ev.evaluate(getattr(world, name)) for name in ("r8", "r2")}


def _scores_from_log(rows: list[dict], metric: str, filt: str) -> dict[int, float]:
    return {r["doc_id"]: float(r[metric]) for r in rows if r["filter"] == filt}


def _table(a: dict[int, float], b: dict[int, float]) -> dict[tuple[int, int], int]:
    """The 2×2 table of two 1/0 score maps over the same documents, counted by hand."""
    assert a.keys() == b.keys()
    table = {(i, j): 0 for i in (0, 1) for j in (0, 1)}
    for doc in a:
        table[(int(a[doc]), int(b[doc]))] += 1
    return table


def _ours(res, task: str) -> dict[int, float]:
    return {r["doc_id"]: r["score"] for r in res.records if r["task"] == task}


@pytest.mark.parametrize(
    ("task", "metric", "filt"), [("rb_mc", "acc", "none"), ("rb_gen", "exact_match", "first-char")]
)
def test_scores_and_2x2_table_equal_lm_evals_own_samples_files(evaluated, lm_eval_logs, task, metric, filt):
    ev, res = evaluated
    logs = {name: _scores_from_log(lm_eval_logs[name][task], metric, filt) for name in ("r8", "r2")}
    assert len(logs["r8"]) == 28
    for name in ("r8", "r2"):
        assert _ours(res[name], task) == logs[name]  # item by item, not only the totals
    table = _table(logs["r8"], logs["r2"])
    assert table[(1, 0)] + table[(0, 1)] > 0  # the adapters disagree somewhere: the table can fail
    probe, variant = list(_ours(res["r8"], task).values()), list(_ours(res["r2"], task).values())
    pd = paired_delta(probe, variant, confidence=0.95)
    assert (pd.probe_only_correct, pd.variant_only_correct) == (table[(1, 0)], table[(0, 1)])
    assert pd.n == sum(table.values())


def test_records_name_their_task_metric_filter_and_prompt(evaluated, lm_eval_logs):
    ev, res = evaluated
    recs = res["r8"].records
    assert [r["item_id"] for r in recs[:2]] == ["rb_mc:0", "rb_mc:1"] and recs[-1]["item_id"] == "rb_gen:27"
    assert res["r8"].metric_key == "rb_mc/acc" and res["r8"].value == pytest.approx(
        sum(_scores_from_log(lm_eval_logs["r8"]["rb_mc"], "acc", "none").values()) / 28
    )
    by_doc = {r["doc_id"]: r for r in lm_eval_logs["r8"]["rb_gen"] if r["filter"] == "first-char"}
    for r in (r for r in recs if r["task"] == "rb_gen"):
        log = by_doc[r["doc_id"]]
        assert r["prompt"] == log["arguments"]["gen_args_0"]["arg_0"] and r["doc_hash"] == log["doc_hash"]
        assert r["response"] == log["filtered_resps"][0] and r["filter"] == "first-char"
    assert res["r8"].forward["adapter"] == "loaded" and res["r2"].forward["adapter"] == "in place"


def test_provenance_records_version_configs_and_documents(evaluated):
    import lm_eval

    ev, _ = evaluated
    prov = ev.provenance()
    assert prov["lm_eval_version"] == lm_eval.__version__ and prov["primary"] == "rb_mc/acc"
    mc = prov["tasks"]["rb_mc"]
    assert mc["config"]["task"] == "rb_mc" and mc["num_fewshot"] == 0 and len(mc["config_sha256"]) == 64
    assert mc["documents"]["n"] == 28 and prov["tasks"]["rb_gen"]["filter"] == "first-char"


def test_named_filter_and_metric_of_a_generation_task(world, in_fixtures, lm_eval_logs):
    ev = LmEvalEvaluator(
        LmEvalSettings(tasks=("tasks",), metric="exact_match", filter="last-char"), base=world.base
    )
    assert [c.name for c in ev.choices] == ["rb_gen", "rb_mc"]  # a folder: its tasks, sorted
    res = ev.evaluate(world.r2)
    assert _ours(res, "rb_gen") == _scores_from_log(lm_eval_logs["r2"]["rb_gen"], "exact_match", "last-char")
    assert {r["metric"] for r in res.records if r["task"] == "rb_mc"} == {"acc"}  # its own first metric


def test_acc_norm_of_a_multiple_choice_task(world, in_fixtures, lm_eval_logs):
    ev = LmEvalEvaluator(LmEvalSettings(tasks=("tasks/rb_mc.yaml",), metric="acc_norm"), base=world.base)
    res = ev.evaluate(world.r8)
    assert [r["item_id"] for r in res.records] == [str(i) for i in range(28)]  # one task: lm-eval's doc_id
    assert res.metric_key == "rb_mc/acc_norm"
    assert _ours(res, "rb_mc") == _scores_from_log(lm_eval_logs["r8"]["rb_mc"], "acc_norm", "none")
