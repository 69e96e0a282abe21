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
