"""`rankbench compare` on the command line: the table, --json, --markdown, exit codes, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankbench.cli import main

DATA = Path(__file__).parent / "data" / "lm_eval"
BASE, R2, R1 = (str(DATA / n) for n in ("lora_r8", "lora_r2", "lora_r1"))
MC = ["--task", "rb_mc", "--metric", "acc"]


def test_table_names_inputs_and_says_the_verdicts_are_separate_tests(capsys):
    assert main(["compare", BASE, R2, R1, *MC]) == 0
    out, err = capsys.readouterr()
    assert f"baseline: {BASE} (lm-eval samples, task rb_mc, metric acc, filter none; 28 items)" in out
    assert f"C1: {R2} (lm-eval samples, task rb_mc, metric acc, filter none)" in out  # the legend
    assert f"C2: {R1} (lm-eval samples, task rb_mc, metric acc, filter none)" in out
    assert "Tango score interval with an exact critical value" in out  # 28 items: exact (stats.exact)
    assert "PASS iff its lower end > -0.01" in out
    header = next(line for line in out.splitlines() if line.startswith("candidate "))
    assert header.split() == [
        "candidate",
        "n",
        "base_mean",
        "cand_mean",
        "delta",
        "CI",
        "cand_only",
        "base_only",
        "verdict",
        "margin",
    ]
    assert "separate test" in out
    assert err == ""


def test_json_has_stable_keys_and_only_json_on_stdout(capsys):
    assert main(["compare", BASE, R2, R1, *MC, "--json", "--holm", "--tolerance", "0.05"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["kind"] == "rankbench_compare" and doc["tolerance"] == 0.05
    assert doc["schema_version"] == 1  # an int, like every artifact's
    assert [c["candidate"]["input"] for c in doc["comparisons"]] == [R2, R1]
    for c in doc["comparisons"]:
        assert {"candidate", "ci", "verdict", "holm"} <= set(c)  # the full entry is pinned in test_compare
        assert set(c["ci"]) == {"low", "high", "confidence", "method"}
        assert c["holm"]["verdict"] in ("PASS", "FAIL")
    assert "candidate" in err  # the table went to stderr


def test_markdown_file(tmp_path, capsys):
    md = tmp_path / "cmp.md"
    assert (
        main(["compare", BASE, R2, "--task", "rb_gen", "--filter", "last-char", "--markdown", str(md)]) == 0
    )
    text = md.read_text()
    assert text.startswith("# rankbench compare")
    assert "| candidate | n | base_mean |" in text and "| `C1` | 28 |" in text
    assert f"- C1: {R2} (lm-eval samples" in text  # the legend of the short label
    assert "filter last-char" in text
    assert f"wrote {md}" in capsys.readouterr().err


def test_require_pass_exits_1_naming_the_failing_candidates_and_0_when_all_pass(capsys):
    assert main(["compare", BASE, R2, R1, *MC, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    failing = [c["candidate"]["input"] for c in doc["comparisons"] if c["verdict"] == "FAIL"]
    assert 0 < len(failing) < 2  # the fixtures hold one of each at tolerance 0.01
    assert main(["compare", BASE, R2, R1, *MC, "--require-pass"]) == 1
    err = capsys.readouterr().err
    assert f"error: 1 of 2 candidates FAIL non-inferiority at tolerance 0.01: {failing[0]}" in err
    assert main(["compare", BASE, R2, R1, *MC, "--require-pass", "--tolerance", "0.6"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [BASE, R2],
            "error: " + str(DATA / "lora_r8") + ": this lm-eval output holds 2 tasks: rb_gen, rb_mc",
        ),
        (
            [BASE, R2, "--task", "rb_mc"],
            "this file offers 2 metrics: acc, acc_norm\nhint: choose one with --metric",
        ),
        ([BASE, R2, "--task", "rb_gen"], "this file offers 2 filters: first-char, last-char"),
        ([BASE, "nope/", *MC], "error: nope: no such file or folder"),
        ([BASE, R2, *MC, "--tolerance", "-1"], "tolerance must be a finite number"),
        ([BASE, R2, *MC, "--confidence", "95"], "confidence must be strictly between 0 and 1"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(capsys, args, message):
    assert main(["compare", *args]) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err and out == ""


def test_nan_scores_exit_2(tmp_path, capsys):
    (tmp_path / "a.csv").write_text("id,s\n1,1\n2,0\n")
    (tmp_path / "b.csv").write_text("id,s\n1,nan\n2,0\n")
    assert (
        main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--id", "id", "--score", "s"]) == 2
    )
    assert "item '1': s is nan (NaN or infinite)" in capsys.readouterr().err


def _samples(folder: str, task: str) -> Path:
    (path,) = Path(folder).glob(f"samples_{task}_*.jsonl")
    return path


def test_intersect_says_how_many_items_were_dropped_from_each_side(tmp_path, capsys):
    lines = _samples(R2, "rb_mc").read_text().splitlines()
    cut = tmp_path / "samples_rb_mc_2026-01-01T00-00-00.0.jsonl"
    cut.write_text("\n".join(lines[:20]) + "\n")  # documents 0..19 of 28
    args = ["compare", str(_samples(BASE, "rb_mc")), str(cut), "--metric", "acc"]
    assert main(args) == 2
    assert (
        "baseline 28 items, candidate 20; 8 only in the baseline, 0 only in the candidate"
        in capsys.readouterr().err
    )
    md = tmp_path / "cmp.md"
    assert main([*args, "--intersect", "--json", "--markdown", str(md)]) == 0
    out, err = capsys.readouterr()
    entry = json.loads(out)["comparisons"][0]
    assert entry["n"] == 20 and entry["dropped"] == {"baseline": 8, "candidate": 0}
    line = f"--intersect: {cut}: dropped 8 items only in the baseline and 0 only in the candidate; compared on 20"
    assert line in err and line in md.read_text()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.parquet", "PAR1", "unknown input format (.parquet)"),
        ("samples_rb_mc_v2_2026-01-01T00-00-00.0.jsonl", None, "mismatched tasks: the baseline is 'rb_mc'"),
        (
            "samples_rb_mc_2026-01-01T00-00-00.0.jsonl",
            "dup",
            "doc_id 0 appears more than once under filter 'none'",
        ),
    ],
)
def test_wrong_files_exit_2_naming_the_file(tmp_path, capsys, name, text, message):
    lines = _samples(R2, "rb_mc").read_text().splitlines()
    path = tmp_path / name
    path.write_text(
        "\n".join(lines + lines[:1]) + "\n"
        if text == "dup"
        else "\n".join(lines) + "\n"
        if text is None
        else text
    )
    assert main(["compare", str(_samples(BASE, "rb_mc")), str(path), "--metric", "acc"]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "hint: " in err and "Traceback" not in err


def test_the_readme_example_prints_the_table_the_readme_shows(monkeypatch, capsys):
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text().splitlines()
    (k,) = [i for i, line in enumerate(readme) if line.startswith("rankbench compare tests/data/lm_eval/")]
    shown = readme[k + 3 : readme.index("```", k + 3)]  # the next code block, after the command's fence
    assert len(shown) == 4
    monkeypatch.chdir(root)
    assert main(readme[k].split()[1:]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(line in out for line in shown)


def test_html_page_draws_every_candidate_from_the_json(tmp_path, capsys):
    page = tmp_path / "compare.html"
    assert main(["compare", BASE, R2, R1, *MC, "--json", "--html", str(page)]) == 0
    doc = json.loads(capsys.readouterr().out)
    text = page.read_text()
    assert (
        text.startswith("<!DOCTYPE html>")
        and "<svg" in text
        and "http://" not in text.replace("http://www.w3.org", "")
    )
    for c in doc["comparisons"]:  # the interval ends of each candidate are the JSON's, rounded as in Markdown
        assert f"<td>{c['ci']['low']:.4f}</td>" in text and f"<td>{c['ci']['high']:.4f}</td>" in text
