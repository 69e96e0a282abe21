"""The HTML report: parses, every figure titled and described, offline, deterministic, drawn from the JSON.

The artifacts are the real GPU runs shipped in docs/runs (MiniLM on the full split, a five-seed
campaign); the audit page is drawn for a small adapter written without torch.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tarfile
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from helpers.peft_fixtures import lora_config, planted_factors, random_pairs, write_adapter  # noqa: E402
from rankbench.cli import main  # noqa: E402
from rankbench.report import svg as svg_module  # noqa: E402
from rankbench.report.html import (  # noqa: E402
    bench_html_beside,
    render_aggregate_html,
    render_bench_html,
    write_html_if_possible,
)

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "docs" / "runs" / "h200-2026-11-30.tar.xz"
MEMBERS = (
    "minilm_full/bench.json",
    "minilm_full/audit/audit.json",
    "minilm_full/plans/plans.json",
    "camp/bench_aggregate.json",
)
BENCH_FIGURES = ("fig-spectra", "fig-energy", "fig-rankmap", "fig-forest", "fig-size", "fig-training")
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    with tarfile.open(RUNS) as tar:
        for name in MEMBERS:
            member = tar.getmember(name)
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
    return out


@pytest.fixture(scope="module")
def bench_page(runs) -> str:
    root = runs / "minilm_full"
    return bench_html_beside(root, json.loads((root / "bench.json").read_text()))


@pytest.fixture(scope="module")
def campaign_page(runs) -> str:
    return render_aggregate_html(json.loads((runs / "camp" / "bench_aggregate.json").read_text()))


class Page(HTMLParser):
    """Checks that every element is closed in order, and collects figures and data tables."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.figures: dict[str, dict] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._fig = self._table = self._text_into = None
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed elements: {self.stack}"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "figure":
            self._fig = self.figures.setdefault(
                a["id"], {"svg": [], "title": "", "desc": "", "h2": "", "cap": ""}
            )
        elif tag == "svg" and self._fig is not None:
            self._fig["svg"].append(a)
        elif tag in ("title", "desc", "h2", "figcaption") and self._fig is not None:
            self._text_into = {"figcaption": "cap"}.get(tag, tag)
        elif tag == "table" and "data-figure" in a:
            self._table = self.tables.setdefault(a["data-figure"], [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._table[-1].append("")
            self._text_into = "cell"

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, (
            f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        )
        self.stack.pop()
        if tag == "figure":
            self._fig = None
        elif tag == "table":
            self._table = None
        self._text_into = None

    def handle_data(self, data):
        if self._text_into == "cell":
            self._table[-1][-1] += data
        elif self._text_into and self._fig is not None:
            self._fig[self._text_into] += data


def rows_by(page: Page, figure: str, column: str) -> dict[str, dict[str, str]]:
    head, *body = page.tables[figure]
    return {row[head.index(column)]: dict(zip(head, row, strict=True)) for row in body}


def test_bench_page_parses_and_has_every_figure_titled_and_described(bench_page):
    page = Page(bench_page)
    assert tuple(page.figures) == BENCH_FIGURES
    for key, fig in page.figures.items():
        assert len(fig["svg"]) == 1, key
        assert fig["svg"][0]["role"] == "img"
        assert fig["svg"][0]["aria-labelledby"] == f"{key}-title {key}-desc"
        assert fig["title"].strip() and fig["title"] == fig["h2"], key
        assert len(fig["desc"]) > 40 and len(fig["cap"]) > 40, key
        assert key in page.tables and len(page.tables[key]) > 1, key
    ids = re.findall(r'\sid="([^"]+)"', bench_page)
    assert len(ids) == len(set(ids)), "ids repeat across the inlined figures"


@pytest.mark.parametrize("which", ["bench_page", "campaign_page"])
def test_no_external_resources(which, request):
    text = request.getfixturevalue(which)
    assert not re.search(r"<script|<link|<img|<iframe|@import|@font-face", text, re.I)
    for ref in re.findall(r'(?:href|src)="([^"]*)"', text):
        assert ref.startswith(("#", "data:image/png;base64,")), ref[:60]  # in-page ids, inlined heatmaps
    assert set(re.findall(r"url\(([^)]*)\)", text)) <= {f"#{i}" for i in re.findall(r'\sid="([^"]+)"', text)}
    bare = re.sub(
        r'xmlns(?::\w+)?="[^"]*"|"data:image/png;base64,[^"]*"', "", text
    )  # namespaces name, not fetch
    found = [bare[m.start() - 60 : m.end() + 20] for m in re.finditer(r"https?:|//|www\.", bare)]
    assert not found


def shown(cell: str) -> float:
    """A rounded table cell back as a number (thousands separators dropped)."""
    return float(cell.replace(",", ""))


def test_forest_and_size_use_the_json_numbers(runs, bench_page):
    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    page = Page(bench_page)
    forest = rows_by(page, "fig-forest", "variant")
    size = rows_by(page, "fig-size", "variant")
    assert set(forest) == set(doc["compressed"]) == set(size) - {"probe"}
    for key, v in doc["compressed"].items():
        # rounded as bench.md rounds them: four decimals
        assert forest[key]["ci_low"] == f"{v['ci']['low']:.4f}"
        assert forest[key]["ci_high"] == f"{v['ci']['high']:.4f}"
        assert shown(forest[key]["delta"]) == pytest.approx(v["delta_vs_probe"], abs=5e-5)
        assert forest[key]["verdict"] == v["verdict"]
        counts = (forest[key]["only variant right"], forest[key]["only probe right"], forest[key]["n"])
        assert counts == tuple(
            f"{v['paired'][k]:,}" for k in ("variant_only_correct", "probe_only_correct", "n")
        )
        assert shown(size[key]["LoRA params"]) == v["params"]
    assert size["probe"]["LoRA params"] == f"{doc['probe']['params']:,}"
    frontier = {k for k, row in size.items() if row["on frontier"] == "yes"}
    assert frontier == {"probe", doc["summary"]["best_compression"]["variant"]}  # one PASS, at half the size


def test_audit_figures_use_the_plans(runs, bench_page):
    plans = json.loads((runs / "minilm_full" / "plans" / "plans.json").read_text())["plans"]
    page = Page(bench_page)
    ranks = rows_by(page, "fig-rankmap", "module")
    assert {k: int(r["rank"]) for k, r in ranks.items()} == plans["per_layer"]["ranks"]
    energy = rows_by(page, "fig-energy", "plan")
    for name, plan in plans.items():
        kept = 1.0 - plan["discarded_energy_fraction"]
        assert shown(energy[name]["energy kept"]) == pytest.approx(kept, abs=5e-5)
    head, *body = page.tables["fig-spectra"]
    assert len(body) == 2 * 7  # median and p90 module of each of the 7 module types, one rule
    for row in body:
        cell = dict(zip(head, row, strict=True))
        assert int(cell["cut k"]) == plans["per_layer"]["rule_ranks"][cell["module"]]


def test_campaign_draws_the_seeds_over_the_decision_interval(runs, campaign_page):
    doc = json.loads((runs / "camp" / "bench_aggregate.json").read_text())
    page = Page(campaign_page)
    assert tuple(page.figures) == ("fig-campaign", "fig-size")
    rows = rows_by(page, "fig-campaign", "variant")
    for key, v in doc["compressed"].items():
        # no decision_ci: the pooled one
        assert shown(rows[key]["ci_low"]) == pytest.approx(v["delta_ci_pooled"]["ci_low"], abs=5e-5)
        assert [float(x) for x in rows[key]["seed deltas"].split()] == pytest.approx(
            v["delta_vs_probe"]["values"], abs=5e-5
        )
        assert rows[key]["verdict"] == ("PASS" if v["policy_result"]["passed"] else "FAIL")
    assert (
        "uniform_median · truncate (compression): seeds passing 4/5, policy PASS"
        in page.figures["fig-campaign"]["desc"]
    )


def test_campaign_prefers_decision_ci(runs):
    doc = json.loads((runs / "camp" / "bench_aggregate.json").read_text())
    doc = copy.deepcopy(doc)
    v = doc["compressed"]["uniform_p90"]
    v["decision_ci"] = {
        "low": -0.0123,
        "high": 0.0045,
        "confidence": 0.95,
        "method": "t across seeds",
        "df": 4,
    }
    rows = rows_by(Page(render_aggregate_html(doc)), "fig-campaign", "variant")
    assert (shown(rows["uniform_p90"]["ci_low"]), rows["uniform_p90"]["interval method"]) == (
        -0.0123,
        "t across seeds",
    )


def test_rerender_is_byte_identical_across_processes(runs, bench_page, tmp_path):
    root = runs / "minilm_full"
    assert bench_html_beside(root, json.loads((root / "bench.json").read_text())) == bench_page
    out = tmp_path / "again.html"
    cmd = [sys.executable, "-m", "rankbench", "report", str(root), "--html", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    assert out.read_text(encoding="utf-8") == bench_page


def test_report_cli_writes_beside_the_json(runs, tmp_path, capsys):
    camp = tmp_path / "camp"
    camp.mkdir()
    (camp / "bench_aggregate.json").write_bytes((runs / "camp" / "bench_aggregate.json").read_bytes())
    assert main(["report", str(camp), "--html"]) == 0
    assert Page((camp / "bench_aggregate.html").read_text()).figures
    assert "wrote" in capsys.readouterr().err


def test_report_cli_errors_exit_2(runs, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bench.json"
    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    del doc["compressed"]["uniform_p90"]["delta_vs_probe"]
    bad.write_text(json.dumps(doc))
    assert main(["report", str(bad), "--html"]) == 2
    err = capsys.readouterr().err
    assert "cannot draw the report: a field is missing" in err and "delta_vs_probe" in err
    assert not (tmp_path / "bench.html").exists()
    monkeypatch.setattr(svg_module, "matplotlib_available", lambda: False)
    assert main(["report", str(runs / "minilm_full"), "--html", "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "needs matplotlib" in err and "pip install 'rankbench[report]'" in err
    assert "Traceback" not in err and not (tmp_path / "x.html").exists()


def test_without_matplotlib_a_run_still_writes_its_markdown(tmp_path, monkeypatch):
    monkeypatch.setattr(svg_module, "matplotlib_available", lambda: False)
    with pytest.warns(UserWarning, match="bench.html not written: matplotlib is not installed"):
        assert write_html_if_possible(tmp_path / "bench.html", lambda: "never called") is False
    assert not (tmp_path / "bench.html").exists()


def test_write_bench_writes_the_page_beside_the_markdown(runs, tmp_path):
    from rankbench.artifacts.bench import write_bench

    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    write_bench(tmp_path, doc)
    page = Page((tmp_path / "bench.html").read_text())
    assert tuple(page.figures) == ("fig-forest", "fig-size", "fig-training")  # no audit/ beside it here
    assert "no audit/audit.json beside bench.json" in (tmp_path / "bench.html").read_text()


def test_gate_failed_bench_draws_what_it_has(runs):
    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    doc["compressed"] = {}
    assert tuple(Page(render_bench_html(doc)).figures) == ("fig-training",)


def test_audit_html(tmp_path, capsys):
    rng = np.random.default_rng(0)
    pairs = random_pairs(rng, n=4, r=8)
    for i in range(4):
        B, A = planted_factors(rng, 24, 16, 8, i + 1, 1e-3)
        pairs[f"model.layers.{i}.mlp.up_proj"] = (A, B)
    folder = write_adapter(tmp_path / "adapter", pairs, config=lora_config(r=8, alpha=16))
    out = tmp_path / "audit.html"
    assert main(["audit", str(folder), "--quiet", "--summary-only", "--html", str(out)]) == 0
    page = Page(out.read_text())
    assert tuple(page.figures) == ("fig-spectra", "fig-energy", "fig-rankmap")
    rank_rows = rows_by(page, "fig-rankmap", "module")
    assert len(rank_rows) == 8 and {r["type"] for r in rank_rows.values()} == {
        "self_attn.q_proj",
        "mlp.up_proj",
    }
    head, *body = page.tables["fig-spectra"]
    assert {row[head.index("rule")] for row in body} == {"energy:0.9"}
    assert "modules" in capsys.readouterr().out  # the usual table still goes to stdout


def test_audit_html_rule_shapes_the_page_plans(tmp_path, capsys):
    rng = np.random.default_rng(1)
    folder = write_adapter(
        tmp_path / "adapter", random_pairs(rng, n=4, r=8), config=lora_config(r=8, alpha=16)
    )
    out = tmp_path / "audit.html"
    argv = ["audit", str(folder), "--quiet", "--summary-only", "--html", str(out), "--rule", "sv_ratio:4"]
    assert main(argv) == 0
    head, *body = Page(out.read_text()).tables["fig-spectra"]
    assert {row[head.index("rule")] for row in body} == {"sv_ratio:4"}
    capsys.readouterr()
    # a bad rule is refused before any work; --rule without --html is refused too (it would do nothing)
    assert main(["audit", str(folder), "--html", str(tmp_path / "b.html"), "--rule", "energy:7"]) == 2
    assert "energy" in capsys.readouterr().err and not (tmp_path / "b.html").exists()
    assert main(["audit", str(folder), "--rule", "energy:0.8"]) == 2
    assert "--rule only shapes the --html page" in capsys.readouterr().err


def test_audit_html_without_matplotlib_exits_2_before_auditing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(svg_module, "matplotlib_available", lambda: False)
    assert main(["audit", str(tmp_path / "nowhere"), "--html", str(tmp_path / "a.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the HTML report needs matplotlib") and "rankbench[report]" in err


def test_write_aggregate_writes_the_page_beside_the_markdown(runs, tmp_path):
    from rankbench.artifacts.aggregate import write_aggregate

    doc = json.loads((runs / "camp" / "bench_aggregate.json").read_text())
    write_aggregate(tmp_path, doc)
    assert (tmp_path / "bench_aggregate.md").is_file()
    assert (tmp_path / "bench_aggregate.html").read_text() == render_aggregate_html(doc)


def test_rendering_leaves_the_users_matplotlib_alone(runs):
    import matplotlib

    before = (matplotlib.get_backend(), dict(matplotlib.rcParams))
    render_aggregate_html(json.loads((runs / "camp" / "bench_aggregate.json").read_text()))
    assert (matplotlib.get_backend(), dict(matplotlib.rcParams)) == before


# --- what bench.md says first: the level, the findings, a visible results table, rounded numbers -----


def _bbc_doc(runs) -> dict:
    """The real run's document with the issue's BBC/MiniLM variants and the findings they give."""
    from helpers.judged import bbc_compressed
    from rankbench.artifacts.findings import bench_findings

    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    doc["compressed"] = bbc_compressed()
    doc["probe"].update(accuracy=0.922, rank=16, params=100_000, n_eval_items=500)
    doc["env"]["validation_classification"] = {
        "level": "underpowered",
        "confidence": "low",
        "rationale": "single seed; the smallest resolvable margin exceeds the tolerance 0.01",
    }
    doc["summary"]["findings"] = bench_findings(
        doc["compressed"], doc["probe"], tolerance=0.01, confidence=0.95, gate_passed=True
    )
    return doc


def _outside_figures(page: str) -> str:
    """The page without its inline SVG (path data) and the verbatim config (the user's own numbers)."""
    page = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    return re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)


def _results_rows(page: str) -> dict[str, list[str]]:
    m = re.search(r'<section id="results">.*?<table class="results">(.*?)</table>', page, re.S)
    assert m, "no visible results table"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.S)
    cells = [
        [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)]
        for r in rows
    ]
    return {row[0]: row for row in cells}


def test_bench_page_states_the_level_first_and_shows_a_rounded_results_table(runs, bench_page):
    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    vc = doc["env"]["validation_classification"]
    level = re.search(r'<p class="level[^"]*" id="validation-level">(.*?)</p>', bench_page, re.S)
    assert level and bench_page.index('id="validation-level"') < bench_page.index("<figure")
    assert f"Validation level: {vc['level']}" in level.group(1) and "claim strength low" in level.group(1)
    rows = _results_rows(bench_page)
    before = bench_page[: bench_page.index('<section id="results">')]
    assert before.count("<details") == before.count("</details>")  # not collapsed: visible
    assert set(rows) == {"Variant", "probe", *doc["compressed"]}
    assert rows["probe"][3] == f"{doc['probe']['params']:,}" and rows["probe"][5] == "0.8305"
    for key, v in doc["compressed"].items():
        row = rows[key]
        assert row[4] == f"{v['param_reduction']:.1%}" and row[5] == f"{v['accuracy']:.4f}"
        assert row[6] == f"{v['delta_vs_probe']:+.4f}"
        assert row[7] == f"[{v['ci']['low']:+.4f}, {v['ci']['high']:+.4f}]"
        assert row[-1] == v["verdict"] and row[-2] == f"{v['mde']:.4f}"
    assert rows["uniform_median"][6] == "-0.0065"  # not -0.006500000000000061
    raw = re.findall(r"-?\d+\.\d{5,}", _outside_figures(bench_page))
    assert raw == [], raw[:5]
    for section in ("timings", "environment", "configuration"):
        assert f'<details id="{section}">' in bench_page


def test_no_raw_float_outside_the_figures_even_for_a_long_probe_accuracy(runs):
    doc = _bbc_doc(runs)
    doc["probe"]["accuracy"] = 281 / 300
    page = render_bench_html(doc)
    assert "eval_accuracy 0.9367, gate" in page
    assert re.findall(r"-?\d+\.\d{5,}", _outside_figures(page)) == []


def test_campaign_page_states_power_and_shows_its_results_table(runs, campaign_page):
    doc = json.loads((runs / "camp" / "bench_aggregate.json").read_text())
    assert "Validation level: 5 seeds, statistical power" in campaign_page
    rows = _results_rows(campaign_page)
    assert set(rows) == {"Variant", *doc["compressed"]}
    v = doc["compressed"]["uniform_median"]
    assert (
        rows["uniform_median"][4] == f"{v['delta_vs_probe']['mean']:+.4f} ± {v['delta_vs_probe']['std']:+.4f}"
    )
    assert rows["uniform_median"][-2:] == ["4/5", "PASS"]
    pooled = v["delta_ci_pooled"]  # this aggregate predates decision_ci: the pooled interval, marked
    assert rows["uniform_median"][5] == f"[{pooled['ci_low']:+.4f}, {pooled['ci_high']:+.4f}] (pooled)"
    assert re.findall(r"-?\d+\.\d{5,}", _outside_figures(campaign_page)) == []


def test_findings_appear_in_bench_md_and_bench_html_above_the_notes(runs):
    from rankbench.report.bench_md import render_bench

    doc = _bbc_doc(runs)
    kinds = [f["kind"] for f in doc["summary"]["findings"]]
    assert kinds == ["control_passes", "better_than_probe", "variant_is_probe", "underpowered"]
    page, md = render_bench_html(doc), render_bench(doc)
    text = unescape(page)
    for f in doc["summary"]["findings"]:
        assert f["text"] in text and f["text"] in md
    assert text.index("a random subspace of this adapter's rank at r=8") < text.index("<h2>Notes</h2>")
    assert md.index("### Findings") < md.index("### Notes")
    assert "26 items only it got right, 9 only the probe" in md
    assert page.index('id="findings"') < page.index('id="results"') < page.index("<figure")
    assert _results_rows(page)["uniform_p90"][1] == "truncate · control"


def test_surprising_verdicts_are_explained_where_they_are_shown(runs):
    from helpers.judged import entry
    from rankbench.report.bench_md import render_bench

    doc = json.loads((runs / "minilm_full" / "bench.json").read_text())
    kw = {"n": 2000, "probe_right": 1700}
    doc["compressed"] = {
        "uniform_p90": entry("uniform_p90", b=2, c=12, **kw),  # PASS, whole interval below 0
        "per_layer_shuffled": entry("per_layer_shuffled", b=40, c=50, role="control", **kw),  # same Δ, FAIL
    }
    assert [v["verdict"] for v in doc["compressed"].values()] == ["PASS", "FAIL"]
    page, md = unescape(render_bench_html(doc)), render_bench(doc)
    for text in (page, md):
        assert "uniform_p90: PASS with the whole interval below 0 ([-0.0096, -0.0016])" in text
        assert "likely a little worse than the probe, but within the tolerance" in text
        assert "per_layer_shuffled: FAIL at Δ -0.0050, no lower than the passing uniform_p90" in text
        assert "disagrees with the probe on 90 items against 14 for uniform_p90" in text
        assert "Controls are held to the same margin as the compressions" in text
    doc["compressed"]["per_layer_shuffled"] = entry("per_layer_shuffled", b=2, c=200, role="control", **kw)
    again = unescape(render_bench_html(doc))
    assert "per_layer_shuffled: FAIL at" not in again  # a FAIL well below every PASS needs no excuse


def test_size_figure_numbers_its_points_and_keeps_same_size_neighbours_apart(runs, bench_page):
    from rankbench.report.fields import bench_rows
    from rankbench.report.size_figure import dodge, key_lines, number_sides

    doc = _bbc_doc(runs)
    rows = [r for r in bench_rows(doc) if r.params]
    xs, sides = dodge(rows), number_sides(rows)
    same = [i for i, r in enumerate(rows) if r.params == 50_000]
    assert len(same) == 3  # uniform_median, its retrain and random_subspace
    logs = [np.log10(xs[i]) for i in same]
    assert np.diff(logs).min() > 0.005 and np.mean(logs) == pytest.approx(np.log10(50_000))
    assert [sides[i] for i in same] == [-1, 1, 1]  # the first to the left, the others to the right
    near = [replace(rows[0], key="a", params=1606.0), replace(rows[0], key="b", params=1576.0)]
    assert number_sides(near) == [1, -1]  # 2% apart is side by side too: the smaller one's number left
    near_x = dodge(near)
    assert near_x[1] < near_x[0] and np.log10(near_x[0] / near_x[1]) > 0.005
    lines = key_lines(rows, [r.delta for r in rows])
    assert lines[0] == "1  uniform_median · truncate" and len(lines) == len(rows)
    page = Page(bench_page)
    size = rows_by(page, "fig-size", "variant")
    assert [size[k]["#"] for k in doc_keys(runs)] == [str(i + 1) for i in range(len(size) - 1)]
    assert "A flat stretch means that nothing larger does better" in page.figures["fig-size"]["cap"]


def doc_keys(runs) -> list[str]:
    return list(json.loads((runs / "minilm_full" / "bench.json").read_text())["compressed"])


def test_campaign_findings_appear_in_its_markdown_and_page(runs):
    from rankbench.artifacts.findings import aggregate_findings
    from rankbench.report.aggregate_md import render_aggregate

    doc = json.loads((runs / "camp" / "bench_aggregate.json").read_text())
    doc["summary"]["findings"] = aggregate_findings(
        doc["compressed"], doc["probe"], tolerance=0.01, confidence=0.95, n_seeds=doc["n_seeds"]
    )
    # in this real campaign the shuffled control meets the policy and the retrain does not
    assert [f["kind"] for f in doc["summary"]["findings"]] == [
        "control_passes",
        "retrain_fails_truncation_passes",
    ]
    md, page = render_aggregate(doc), unescape(render_aggregate_html(doc))
    for f in doc["summary"]["findings"]:
        assert f["text"] in md and f["text"] in page
    assert md.index("### Findings") < md.index("### What may and may not be claimed")
    assert page.index("Findings") < page.index("<h2>Notes</h2>")
