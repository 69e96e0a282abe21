"""Bad input to the lm_eval evaluator exits 2 with a message that names what is there (no model needed)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from rankbench.bench.config import BenchConfig  # noqa: E402
from rankbench.bench.evaluators import lm_eval_tasks as lt  # noqa: E402
from rankbench.bench.evaluators import make_evaluator, task_results  # noqa: E402
from rankbench.bench.evaluators.lm_eval import LmEvalEvaluator, LmEvalSettings, check_backend  # noqa: E402
from rankbench.bench.evaluators.profile import ProfileEvaluator  # noqa: E402
from rankbench.compare import Selection, compare_all, load_input  # noqa: E402
from rankbench.errors import RankbenchError  # noqa: E402
from rankbench.io import atomic_write_jsonl  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "data" / "lm_eval"
PERPLEXITY_TASK = """task: rb_ppl
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/rb_gen.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: "{{question}}"
doc_to_target: "{{question}}"
metric_list:
  - metric: word_perplexity
  - metric: bits_per_byte
"""


@pytest.fixture
def in_fixtures(monkeypatch):
    monkeypatch.chdir(FIXTURES)


def _evaluator(tasks, **kw):
    return LmEvalEvaluator(LmEvalSettings(tasks=tuple(tasks), **kw), base="unused-until-evaluate")


def test_unknown_task_lists_the_closest_names(in_fixtures):
    with pytest.raises(
        RankbenchError, match=r"unknown lm-eval task 'rb_mcq' \(eval.tasks\); the closest names: rb_mc"
    ):
        _evaluator(["tasks/rb_gen.yaml", "rb_mcq"])
    with pytest.raises(RankbenchError, match="closest names: .*arc_easy") as exc:
        _evaluator(["arc_eazy"])
    assert "lm_eval ls tasks" in exc.value.hint


def test_missing_task_path(in_fixtures):
    with pytest.raises(RankbenchError, match="no such task file or folder") as exc:
        _evaluator(["tasks/nope.yaml"])
    assert str(exc.value.path) == "tasks/nope.yaml"


def test_metric_the_task_does_not_have_lists_those_it_has(in_fixtures):
    with pytest.raises(
        RankbenchError, match=r"task 'rb_mc' has no metric 'f1' \(eval.metric\); it has: acc, acc_norm"
    ):
        _evaluator(["tasks/rb_mc.yaml"], metric="f1")


def test_filter_the_task_does_not_have_lists_those_it_has(in_fixtures):
    with pytest.raises(
        RankbenchError,
        match=r"task 'rb_gen' has no filter 'strict-match' \(eval.filter\); it has: first-char, last-char",
    ):
        _evaluator(["tasks/rb_gen.yaml"], filter="strict-match")


def test_a_task_with_no_per_item_metric(tmp_path, monkeypatch):
    shutil.copytree(FIXTURES / "data", tmp_path / "data")
    (tmp_path / "ppl.yaml").write_text(PERPLEXITY_TASK)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        RankbenchError,
        match=r"task 'rb_ppl' has no per-item metric \(its metrics, word_perplexity, bits_per_byte, exist only as aggregates",
    ):
        _evaluator(["ppl.yaml"])


def test_lm_eval_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "lm_eval", None)
    with pytest.raises(RankbenchError, match="needs lm-evaluation-harness, which is not installed") as exc:
        lt.require_lm_eval()
    assert "rankbench[lmeval]" in exc.value.hint


def test_vllm_backend_without_vllm_or_gpu(monkeypatch):
    import importlib.util

    import torch

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a)
    )
    with pytest.raises(RankbenchError, match="eval.backend vllm: vllm is not installed"):
        check_backend("vllm")
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a)
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RankbenchError, match="needs a CUDA GPU and this machine has none"):
        check_backend("vllm")
    check_backend("hf")  # nothing to check


def test_documents_that_change_between_evaluations_stop_the_bench(in_fixtures):
    ev = _evaluator(["tasks/rb_mc.yaml"])
    ev._check_documents("rb_mc", ("a", "b", "c"))
    ev._check_documents("rb_mc", ("a", "b", "c"))  # the same documents: fine
    with pytest.raises(
        RankbenchError,
        match=r"'rb_mc': its documents changed between two evaluations \(3 then 3 documents; the first difference is at document 1\)",
    ):
        ev._check_documents("rb_mc", ("a", "x", "c"))
    recorded = {"rb_mc": lt.documents_digest(("a", "b", "c"))}
    ev.expect_documents(recorded)
    with pytest.raises(RankbenchError, match="differ from the ones this bench evaluated before"):
        ev.expect_documents({"rb_mc": lt.documents_digest(("a", "b"))})


def test_config_eval_section_is_checked():
    with pytest.raises(RankbenchError, match="eval.tasks: eval.harness lm_eval needs at least one task"):
        BenchConfig.from_dict({"eval": {"harness": "lm_eval"}})
    with pytest.raises(RankbenchError) as exc:
        BenchConfig.from_dict({"eval": {"harness": "lmeval", "tasks": ["a"], "backend": "tgi", "limit": 0}})
    msg = exc.value.message
    assert "eval.harness: expected one of profile, lm_eval, got 'lmeval'" in msg
    assert "eval.backend: expected hf or vllm, got 'tgi'" in msg and "eval.limit: expected >= 1, got 0" in msg
    with pytest.raises(
        RankbenchError, match=r"eval.metric: only for eval.harness lm_eval \(harness is profile\)"
    ):
        BenchConfig.from_dict({"eval": {"metric": "acc"}})
    cfg = BenchConfig.from_dict(
        {"eval": {"harness": "lm_eval", "tasks": ["x.yaml"], "model_args": {"dtype": "bfloat16"}}}
    )
    assert LmEvalSettings.from_config(cfg.eval) == LmEvalSettings(
        tasks=("x.yaml",), model_args={"dtype": "bfloat16"}
    )


def test_task_results_and_the_profile_evaluator():
    recs = [{"task": "a", "score": 1.0, "metric": "acc", "filter": "none"}, {"task": "a", "score": 0.0},
            {"task": "b", "score": 1.0, "metric": "exact_match", "filter": "f"}]  # fmt: skip
    assert task_results(recs) == {
        "a": {"metric": "acc", "filter": "none", "n_items": 2, "value": 0.5},
        "b": {"metric": "exact_match", "filter": "f", "n_items": 1, "value": 1.0},
    }
    calls = []

    class Profile:
        name, primary_metric_key = "seqcls", "eval_accuracy"

        def evaluate(self, cfg, data, adapter_dir, *, progress=None):
            calls.append((cfg, data, adapter_dir, progress))
            return "result"

    ev = make_evaluator(BenchConfig(), profile=Profile(), data="data")
    assert isinstance(ev, ProfileEvaluator) and ev.cfg == BenchConfig()
    ev = ProfileEvaluator(Profile(), "cfg", "data")
    assert ev.evaluate(Path("a"), progress="p") == "result" and calls == [("cfg", "data", Path("a"), "p")]
    assert ev.provenance() == {"harness": "profile", "profile": "seqcls", "metric_key": "eval_accuracy"}


def test_multi_task_predictions_are_read_one_task_at_a_time(tmp_path):
    rows = [{"item_id": f"t{k}:{i}", "score": float((i + k) % 2), "task": f"t{k}", "prompt": f"q{i}", "metric": "acc"}
            for k in (1, 2) for i in range(4)]  # fmt: skip
    base = tmp_path / "a" / "predictions.jsonl"
    cand = tmp_path / "b" / "predictions.jsonl"
    base.parent.mkdir()
    cand.parent.mkdir()
    atomic_write_jsonl(base, rows)
    atomic_write_jsonl(cand, [dict(r, score=1.0) for r in rows])
    with pytest.raises(RankbenchError, match="these predictions hold 2 tasks: t1, t2"):
        load_input(base, Selection())
    with pytest.raises(RankbenchError, match="no predictions of task 't3' here"):
        load_input(base, Selection(task="t3"))
    b, c = load_input(base, Selection(task="t2")), load_input(cand, Selection(task="t2"))
    assert (
        b.ids == ("t2:0", "t2:1", "t2:2", "t2:3") and b.task == "t2" and b.texts == ("q0", "q1", "q2", "q3")
    )
    assert (b.metric, b.filter) == ("acc", None)
    (comp,) = compare_all(b, [c])["comparisons"]
    assert [(f["id"], f["text"]) for f in comp["flips"]["gained"]] == [("t2:0", "q0"), ("t2:2", "q2")]


def test_make_evaluator_builds_the_lm_eval_one_from_the_config(in_fixtures):
    cfg = BenchConfig.from_dict({"eval": {"harness": "lm_eval", "tasks": ["tasks/rb_gen.yaml"], "limit": 5}})
    ev = make_evaluator(cfg, base="unused-until-evaluate")
    assert isinstance(ev, LmEvalEvaluator) and ev.settings.limit == 5
    assert [(c.name, c.metric, c.filter) for c in ev.choices] == [("rb_gen", "exact_match", "first-char")]
