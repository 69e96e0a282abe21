"""The flip list: which items a candidate lost or gained against the baseline, in every compare output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rankbench.cli import main
from rankbench.compare import Selection, compare_all, join_items, load_input
from rankbench.compare.flips import flip_list, item_texts
from rankbench.compare.records import make_item_scores

DATA = Path(__file__).resolve().parent / "data" / "lm_eval"
BASE, R1 = str(DATA / "lora_r8"), str(DATA / "lora_r1")
MC = ["--task", "rb_mc", "--metric", "acc"]


def _scores(path, values, texts=None):
    return make_item_scores(path, "t", list(enumerate(values)), metric="m", texts=texts)


def test_flip_list_by_hand():
    base = _scores("b", [1, 1, 0, 0, 1], texts=["q0", "q1", "q2", "q3", "q4"])
    cand = _scores("c", [1, 0, 1, 0, 0])
    joined = join_items(base, cand)
    flips = flip_list(joined, item_texts(base, cand))
    assert [f["id"] for f in flips["lost"]] == ["1", "4"]
    assert [f["id"] for f in flips["gained"]] == ["2"]
    assert flips["lost"][0] == {"id": "1", "baseline": 1.0, "candidate": 0.0, "text": "q1"}


def test_flip_list_clips_long_texts_to_their_end():
    base, cand = _scores("b", [1.0], texts=["x" * 50 + "END"]), _scores("c", [0.0])
    (f,) = flip_list(join_items(base, cand), item_texts(base), max_text=10)["lost"]
    assert f["text"] == "…" + "x" * 6 + "END" and len(f["text"]) == 10


def test_flips_match_the_discordant_counts_and_carry_lm_evals_prompts():
    sel = Selection(task="rb_mc", metric="acc")
    base, cand = load_input(Path(BASE), sel), load_input(Path(R1), sel)
    (c,) = compare_all(base, [cand])["comparisons"]
    assert len(c["flips"]["lost"]) == c["baseline_only"] and len(c["flips"]["gained"]) == c["candidate_only"]
    assert c["baseline_only"] + c["candidate_only"] > 0  # the fixtures disagree somewhere
    rows = {
        str(r["doc_id"]): r["arguments"]["gen_args_0"]["arg_0"]
        for r in map(json.loads, next(Path(BASE).glob("samples_rb_mc_*.jsonl")).read_text().splitlines())
    }
    b, k = base.scores, {i: n for n, i in enumerate(base.ids)}
    for f in c["flips"]["lost"] + c["flips"]["gained"]:
        assert f["text"] == rows[f["id"]] and f["baseline"] == b[k[f["id"]]]
    lost = {f["id"] for f in c["flips"]["lost"]}
    cand_by_id = dict(zip(cand.ids, cand.scores, strict=True))
    assert lost == {i for i, s in zip(base.ids, base.scores, strict=True) if s == 1 and cand_by_id[i] == 0}
    assert np.isfinite(c["delta"])


def test_markdown_and_html_hold_the_flips_collapsed(tmp_path, capsys):
    md, page = tmp_path / "c.md", tmp_path / "c.html"
    assert main(["compare", BASE, R1, *MC, "--markdown", str(md), "--html", str(page), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (c,) = doc["comparisons"]
    text, html = md.read_text(), page.read_text()
    n = len(c["flips"]["lost"]) + len(c["flips"]["gained"])
    assert text.count("<details>") == 1 and text.count("- lost `") + text.count("- gained `") == n
    assert "<details><summary>flips of C1" in html and html.count("<tr><td>lost</td>") == len(
        c["flips"]["lost"]
    )
    assert "candidate − baseline" in html and "variant − probe" not in html
    assert f"<b>C1:</b> {R1}" in html  # the legend of the short label
