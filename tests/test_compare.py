"""`rankbench compare` on real lm-eval output (tests/data/lm_eval, made as its README says), cross-checked
against a 2x2 table counted here from the raw JSONL, plus the other input formats and Holm's adjustment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rankbench.compare import Selection, compare_all, holm_verdicts, join_items, load_input
from rankbench.errors import RankbenchError
from rankbench.stats import normal_ppf, paired_delta, t_ppf, tango_interval
from rankbench.stats.exact import exact_critical_value

DATA = Path(__file__).parent / "data" / "lm_eval"
BASE, CANDIDATES = DATA / "lora_r8", [DATA / "lora_r2", DATA / "lora_r1"]
N_DOCS = 28
CASES = [("rb_mc", "none", "acc"), ("rb_mc", "none", "acc_norm")]
CASES += [("rb_gen", "first-char", "exact_match"), ("rb_gen", "last-char", "exact_match")]


def samples_file(folder: Path, task: str) -> Path:
    (path,) = folder.glob(f"samples_{task}_*.jsonl")
    return path


def raw_scores(folder: Path, task: str, filt: str, metric: str) -> dict[int, float]:
    """doc_id -> value of ``metric`` under ``filt``, read straight from lm-eval's JSONL."""
    rows = [json.loads(line) for line in samples_file(folder, task).read_text().splitlines()]
    return {r["doc_id"]: float(r[metric]) for r in rows if r["filter"] == filt}


def reference(base: dict, cand: dict, tolerance: float, confidence: float = 0.95) -> dict:
    """The 2x2 table counted by hand and Tango's interval from its cells, at the verdict's critical
    value for this tolerance (exact at these small n: rankbench.stats.exact)."""
    ids = sorted(base)
    b = sum(1 for i in ids if cand[i] == 1.0 and base[i] == 0.0)
    c = sum(1 for i in ids if base[i] == 1.0 and cand[i] == 0.0)
    n = len(ids)
    critical = exact_critical_value(n, tolerance, round(1 - confidence, 12))
    assert critical >= normal_ppf(0.5 + confidence / 2)
    low, high = tango_interval(b, c, n, critical)
    return {
        "n": n,
        "candidate_only": b,
        "baseline_only": c,
        "baseline_mean": sum(base.values()) / n,
        "candidate_mean": sum(cand.values()) / n,
        "delta": (b - c) / n,
        "low": float(low),
        "high": float(high),
    }


def test_fixtures_are_real_lm_eval_samples_of_two_tasks_and_three_models():
    files = sorted(DATA.glob("lora_r*/samples_*.jsonl"))
    assert len(files) == 6
    for f in files:
        rows = [json.loads(line) for line in f.read_text().splitlines()]
        per_filter = {}
        for r in rows:
            per_filter.setdefault(r["filter"], []).append(r["doc_id"])
        expected = {"none"} if "rb_mc" in f.name else {"first-char", "last-char"}
        assert set(per_filter) == expected
        assert all(sorted(ids) == list(range(N_DOCS)) for ids in per_filter.values())
    assert sum(f.stat().st_size for f in DATA.rglob("*") if f.is_file()) < 200_000


# The keys of every entry of comparisons[], in order: the document's stable interface, pinned here.
ENTRY_KEYS = (
    "candidate", "label", "n", "candidate_only", "baseline_only", "baseline_mean", "candidate_mean", "delta",
    "ci", "binary", "tolerance", "verdict", "rule", "point_rule_verdict", "mde", "mde_rule", "dropped",
    "holm", "notes", "flips",
)  # fmt: skip


@pytest.mark.parametrize(("task", "filt", "metric"), CASES)
@pytest.mark.parametrize("tolerance", [0.01, 0.2])
def test_counts_intervals_and_verdicts_match_a_hand_counted_table(task, filt, metric, tolerance):
    sel = Selection(task=task, metric=metric, filter=filt)
    doc = compare_all(load_input(BASE, sel), [load_input(c, sel) for c in CANDIDATES], tolerance=tolerance)
    base = raw_scores(BASE, task, filt, metric)
    assert doc["baseline"]["n_items"] == N_DOCS and doc["baseline"]["format"] == "lm-eval samples"
    for cand, entry in zip(CANDIDATES, doc["comparisons"], strict=True):
        ref = reference(base, raw_scores(cand, task, filt, metric), tolerance)
        assert tuple(entry) == ENTRY_KEYS
        for key in ("n", "candidate_only", "baseline_only"):
            assert entry[key] == ref[key], key
        for key in ("baseline_mean", "candidate_mean", "delta"):
            assert entry[key] == pytest.approx(ref[key], abs=1e-12), key
        assert entry["ci"]["low"] == pytest.approx(ref["low"], abs=1e-9)
        assert entry["ci"]["high"] == pytest.approx(ref["high"], abs=1e-9)
        assert entry["ci"]["method"].startswith("Tango")
        assert entry["verdict"] == ("PASS" if ref["low"] > -tolerance else "FAIL")
        assert entry["candidate"] == {
            "input": str(cand),
            "path": str(samples_file(cand, task)),
            "format": "lm-eval samples",
            "task": task,
            "metric": metric,
            "filter": filt,
            "n_items": N_DOCS,
        }
        assert entry["mde"] > 0


def test_the_fixtures_hold_discordant_items_in_both_directions():
    """Else the cross-check above could not tell candidate_only from baseline_only."""
    totals = np.zeros(2, dtype=int)
    for task, filt, metric in CASES:
        base = raw_scores(BASE, task, filt, metric)
        for cand in CANDIDATES:
            ref = reference(base, raw_scores(cand, task, filt, metric), 0.01)
            totals += (ref["candidate_only"], ref["baseline_only"])
    assert totals.min() > 0


@pytest.mark.parametrize(
    ("sel", "match"),
    [
        (Selection(), r"2 tasks: rb_gen, rb_mc.*\nhint: choose one with --task"),
        (Selection(task="rb_mc"), r"2 metrics: acc, acc_norm\nhint: choose one with --metric"),
        (Selection(task="rb_gen"), r"2 filters: first-char, last-char\nhint: choose one with --filter"),
        (Selection(task="rb_gen", filter="strict"), r"no filter 'strict' here; this file offers: first-c"),
        (Selection(task="rb_mc", metric="f1"), r"no metric 'f1' here; this file offers: acc, acc_norm"),
        (Selection(task="arc"), r"no samples file for task 'arc' \(tasks here: rb_gen, rb_mc\)"),
    ],
)
def test_several_choices_and_none_given_lists_them(sel, match):
    with pytest.raises(RankbenchError, match=match) as err:
        load_input(BASE, sel)
    assert err.value.exit_code == 2


def test_a_samples_file_of_another_task_than_asked_is_refused():
    with pytest.raises(RankbenchError, match=r"this is task 'rb_mc', not 'rb_gen'"):
        load_input(samples_file(BASE, "rb_mc"), Selection(task="rb_gen", metric="acc"))


def _copy_rows(src: Path, dst: Path, edit) -> Path:
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    rows = edit(rows)
    dst.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dst


MC = Selection(metric="acc")


def test_same_doc_id_with_another_document_names_the_first_such_id(tmp_path):
    def edit(rows):
        for r in rows:
            if r["doc_id"] in (9, 5):
                r["doc_hash"] = "0" * 64
        return rows

    cand = _copy_rows(
        samples_file(CANDIDATES[0], "rb_mc"), tmp_path / "samples_rb_mc_2026-01-01T00-00-00.1.jsonl", edit
    )
    with pytest.raises(RankbenchError, match=r"doc_id 5 holds a different document .*doc_hash differs"):
        compare_all(load_input(samples_file(BASE, "rb_mc"), MC), [load_input(cand, MC)])


def test_differing_item_sets_are_refused_with_counts_unless_intersect(tmp_path):
    keep = lambda rows: [r for r in rows if r["doc_id"] not in (3, 4, 20)]  # noqa: E731
    cand = _copy_rows(
        samples_file(CANDIDATES[1], "rb_mc"), tmp_path / "samples_rb_mc_2026-01-01T00-00-00.1.jsonl", keep
    )
    base = load_input(samples_file(BASE, "rb_mc"), MC)
    with pytest.raises(
        RankbenchError, match=r"baseline 28 items, candidate 25; 3 only in the baseline, 0 only"
    ):
        compare_all(base, [load_input(cand, MC)])
    doc = compare_all(base, [load_input(cand, MC)], intersect=True)
    entry = doc["comparisons"][0]
    assert entry["dropped"] == {"baseline": 3, "candidate": 0}
    full = raw_scores(BASE, "rb_mc", "none", "acc")
    ref = reference(
        {i: v for i, v in full.items() if i not in (3, 4, 20)},
        raw_scores(cand.parent, "rb_mc", "none", "acc"),
        doc["tolerance"],
    )
    assert (entry["n"], entry["candidate_only"], entry["baseline_only"]) == (
        25,
        ref["candidate_only"],
        ref["baseline_only"],
    )
    assert entry["ci"]["low"] == pytest.approx(ref["low"], abs=1e-9)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda rows: [*rows, rows[0]], r"doc_id 0 appears more than once under filter 'none'"),
        (
            lambda rows: [{**r, "acc": float("nan")} if r["doc_id"] == 7 else r for r in rows],
            r"item '7': acc is nan",
        ),
        (
            lambda rows: [{**r, "acc": 100.0} if r["doc_id"] == 2 else r for r in rows],
            r"item '2': acc = 100 is outside \[0, 1\]",
        ),
        (
            lambda rows: [{**r, "acc": "yes"} if r["doc_id"] == 1 else r for r in rows],
            r"no metric 'acc' here",
        ),
        (
            lambda rows: [{k: v for k, v in r.items() if k != "filter"} for r in rows],
            r"row 1 is not an lm-eval sample",
        ),
    ],
)
def test_bad_samples_files_are_refused(tmp_path, edit, match):
    bad = _copy_rows(
        samples_file(BASE, "rb_mc"), tmp_path / "samples_rb_mc_2026-01-01T00-00-00.1.jsonl", edit
    )
    with pytest.raises(RankbenchError, match=match) as err:
        load_input(bad, MC)
    assert str(bad) in err.value.render()


def test_mismatched_tasks_are_refused(tmp_path):
    other = tmp_path / "samples_rb_mc_v2_2026-01-01T00-00-00.1.jsonl"
    shutil.copy(samples_file(CANDIDATES[0], "rb_mc"), other)
    with pytest.raises(
        RankbenchError, match=r"mismatched tasks: the baseline is 'rb_mc' .* this candidate 'rb_mc_v2'"
    ):
        compare_all(load_input(samples_file(BASE, "rb_mc"), MC), [load_input(other, MC)])


def _predictions(path: Path, scores, ids=None) -> Path:
    ids = ids or [f"item-{i}" for i in range(len(scores))]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            json.dumps({"item_id": i, "score": s, "pred": 0}) + "\n" for i, s in zip(ids, scores, strict=True)
        )
    )
    return path


def test_rankbench_run_folders_stage_folders_and_predictions_files(tmp_path):
    base = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    cand = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    _predictions(tmp_path / "run" / "probe_eval" / "predictions.jsonl", base)
    _predictions(tmp_path / "run" / "variants" / "v" / "predictions.jsonl", cand)
    inputs = [
        tmp_path / "run",
        tmp_path / "run" / "variants" / "v",
        tmp_path / "run" / "variants" / "v" / "predictions.jsonl",
    ]
    loaded = [load_input(p, Selection()) for p in inputs]
    assert {x.format for x in loaded} == {"rankbench predictions"}
    assert loaded[0].path == str(tmp_path / "run" / "probe_eval" / "predictions.jsonl")
    entry = compare_all(loaded[0], loaded[1:])["comparisons"][0]
    assert (entry["n"], entry["candidate_only"], entry["baseline_only"]) == (6, 1, 1)


def test_generic_csv_and_jsonl_with_named_columns(tmp_path):
    (tmp_path / "a.csv").write_text("qid,correct,other\nq1,1,x\nq2,0,x\nq3,1,x\nq4,0.5,x\n")
    (tmp_path / "b.jsonl").write_text(
        "".join(
            json.dumps({"qid": q, "correct": s}) + "\n"
            for q, s in [("q4", 0.25), ("q3", 1), ("q2", 1), ("q1", 1)]
        )
    )
    sel = Selection(id_column="qid", score_column="correct")
    a, b = load_input(tmp_path / "a.csv", sel), load_input(tmp_path / "b.jsonl", sel)
    assert (a.format, b.format) == ("generic CSV", "generic JSONL")
    entry = compare_all(a, [b])["comparisons"][0]
    expected = paired_delta([1, 0, 1, 0.5], [1, 1, 1, 0.25])  # joined on qid, in the baseline's order
    assert entry["delta"] == pytest.approx(expected.delta) and entry["ci"]["low"] == pytest.approx(
        expected.ci_low
    )
    assert entry["candidate_only"] is None and entry["binary"] is False
    assert entry["ci"]["method"].startswith("paired t-interval")


@pytest.mark.parametrize(
    ("name", "text", "sel", "match"),
    [
        (
            "a.csv",
            "qid,correct\nq1,1\n",
            Selection(),
            r"a CSV needs its id and score columns named \(columns: qid, correct\)",
        ),
        (
            "a.csv",
            "qid,correct\nq1,1\nq1,0\n",
            Selection(id_column="qid", score_column="correct"),
            r"duplicate id 'q1'",
        ),
        (
            "a.csv",
            "qid,correct\nq1,\n",
            Selection(id_column="qid", score_column="correct"),
            r"item 'q1': correct is '', not a number",
        ),
        (
            "a.csv",
            "qid,correct\nq1,1\n",
            Selection(id_column="id", score_column="correct"),
            r"row 1 has no column 'id' \(columns: qid, correct\)",
        ),
        ("a.jsonl", '{"x": 1, "y": 0}\n', Selection(), r"unknown JSONL format \(first row's keys: x, y\)"),
        ("a.txt", "hello\n", Selection(), r"unknown input format \(.txt\)"),
        ("a.jsonl", "{not json\n", Selection(), r"line 1 is not valid JSON"),
        (
            "results_2026-01-01T00-00-00.json",
            "{}",
            Selection(),
            r"lm-eval's aggregate results file.*\nhint: run lm_eval with --log_samples",
        ),
    ],
)
def test_bad_generic_inputs_name_file_problem_and_hint(tmp_path, name, text, sel, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(RankbenchError, match=match) as err:
        load_input(tmp_path / name, sel)
    assert name in err.value.render() and "hint: " in err.value.render()


def test_a_folder_without_scores_a_missing_path_and_half_the_columns_are_refused(tmp_path):
    (tmp_path / "a.csv").write_text("qid,correct\nq1,1\n")
    with pytest.raises(RankbenchError, match=r"--id and --score go together"):
        load_input(tmp_path / "a.csv", Selection(id_column="qid"))
    with pytest.raises(RankbenchError, match=r"found no per-item scores in this folder"):
        load_input(tmp_path, Selection())
    with pytest.raises(RankbenchError, match=r"no such file or folder"):
        load_input(tmp_path / "nope", Selection())


def _binary_pair(n: int, b: int, c: int):
    base = np.zeros(n)
    base[: n // 2] = 1.0
    cand = base.copy()
    cand[n // 2 : n // 2 + b] = 1.0  # b items right only for the candidate
    cand[:c] = 0.0  # c items right only for the baseline
    return base, cand


def test_holm_step_down_on_a_hand_worked_example(tmp_path):
    """n = 1000, tolerance 0.01: (b, c) = (10, 10) passes at 95% but not at 97.5%; (0, 0) passes at both."""
    n, z95, z975 = 1000, normal_ppf(0.975), normal_ppf(0.9875)
    assert float(tango_interval(10, 10, n, z95)[0]) > -0.01 > float(tango_interval(10, 10, n, z975)[0])
    assert float(tango_interval(0, 0, n, z975)[0]) > -0.01
    base, close = _binary_pair(n, 10, 10)
    _, same = _binary_pair(n, 0, 0)
    ids = [str(i) for i in range(n)]
    paths = {
        k: _predictions(tmp_path / f"{k}.jsonl", list(v), ids)
        for k, v in (("base", base), ("close", close), ("same", same))
    }
    b = load_input(paths["base"], Selection())
    joined = [join_items(b, load_input(paths[k], Selection())) for k in ("close", "close", "same")]
    # two "close" ones: round 1 at 97.5% passes neither, so both FAIL though each PASSes alone
    assert [h["verdict"] for h in holm_verdicts(joined[:2], tolerance=0.01, confidence=0.95)] == [
        "FAIL",
        "FAIL",
    ]
    # "close" + "same": round 1 passes "same"; round 2 tests "close" alone at 95% and passes it
    out = holm_verdicts(joined[1:], tolerance=0.01, confidence=0.95)
    assert [h["verdict"] for h in out] == ["PASS", "PASS"]
    assert [h["confidence"] for h in out] == [pytest.approx(0.95), pytest.approx(0.975)]
    doc = compare_all(b, [load_input(paths["close"], Selection())] * 2, holm=True)
    assert [c["verdict"] for c in doc["comparisons"]] == ["PASS", "PASS"]
    assert any("separate test" in note for note in doc["notes"])


def test_an_lm_eval_output_path_with_its_model_folder_and_with_two_runs_of_a_task(tmp_path):
    """lm-eval writes OUTPUT/<model name>/samples_*.jsonl; two runs in one OUTPUT are ambiguous."""
    shutil.copytree(BASE, tmp_path / "out" / "__tmp__base__peft")
    scores = load_input(tmp_path / "out", Selection(task="rb_mc", metric="acc"))
    assert scores.path == str(samples_file(tmp_path / "out" / "__tmp__base__peft", "rb_mc"))
    assert scores.input == str(tmp_path / "out") and len(scores.ids) == N_DOCS
    shutil.copytree(CANDIDATES[0], tmp_path / "out" / "__tmp__other")
    with pytest.raises(
        RankbenchError, match=r"2 samples files for the same task: samples_rb_mc_.*\nhint: several runs"
    ):
        load_input(tmp_path / "out", Selection(task="rb_mc", metric="acc"))


def test_another_per_item_numeric_metric_gets_the_paired_t_interval(tmp_path):
    """A graded metric (here f1 = (acc + acc_norm) / 2 added to the real rows) takes the graded path."""

    def add_f1(rows):
        for r in rows:
            r["metrics"] = [*r["metrics"], "f1"]
            r["f1"] = (r["acc"] + r["acc_norm"]) / 2
        return rows

    name = "samples_rb_mc_2026-01-01T00-00-00.0.jsonl"
    (tmp_path / "b").mkdir()
    base = _copy_rows(samples_file(BASE, "rb_mc"), tmp_path / "b" / name, add_f1)
    cand = _copy_rows(samples_file(CANDIDATES[1], "rb_mc"), tmp_path / name, add_f1)
    sel = Selection(metric="f1")
    entry = compare_all(load_input(base, sel), [load_input(cand, sel)])["comparisons"][0]
    acc = [raw_scores(f, "rb_mc", "none", "acc") for f in (BASE, CANDIDATES[1])]
    norm = [raw_scores(f, "rb_mc", "none", "acc_norm") for f in (BASE, CANDIDATES[1])]
    d = np.array([(acc[1][i] + norm[1][i] - acc[0][i] - norm[0][i]) / 2 for i in range(N_DOCS)])
    assert entry["binary"] is False and entry["candidate_only"] is None
    assert entry["ci"]["method"].startswith("paired t-interval")
    assert entry["delta"] == pytest.approx(d.mean(), abs=1e-12)
    half = entry["delta"] - entry["ci"]["low"]
    assert half == pytest.approx(t_ppf(0.975, N_DOCS - 1) * d.std(ddof=1) / np.sqrt(N_DOCS), rel=1e-9)
