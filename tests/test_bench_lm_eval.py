"""``rankbench run --adapter`` with ``eval.harness: lm_eval``: the bench's per-variant counts against a
2×2 table counted from lm-eval's own samples files for the same adapter folders the bench wrote.

lm-eval runs here as a user runs it (its CLI, ``--log_samples``) on the probe folder and each variant's
adapter folder in the run directory; the table is counted with plain JSON. Also: resume after a kill
inside the variants' evaluations, one base model per run, and the provenance records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("lm_eval")

from helpers.lm_eval_world import build_world, lm_eval_samples, running_in_fixtures  # noqa: E402
from rankbench.cli import main  # noqa: E402

LIMIT = 16
CONFIG = f"""\
eval:
  harness: lm_eval
  tasks: [tasks/rb_mc.yaml]
  metric: acc
  limit: {LIMIT}
compression:
  rule: "energy:0.5"
  variants: [uniform_median, random_subspace]
  methods:
    uniform_median: [truncate]
    random_subspace: [truncate]
"""
VARIANTS = ("uniform_median", "random_subspace")


@pytest.fixture(scope="module")
def in_fixtures():
    with running_in_fixtures() as folder:
        yield folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("bench_lmeval_world"))


def _config(tmp: Path) -> Path:
    path = tmp / "lmeval.yaml"
    path.write_text(CONFIG)
    return path


def _run(world, cfg: Path, out: Path) -> int:
    argv = ["run", "--adapter", str(world.r8), "--base-model", str(world.base), "--config", str(cfg),
            "--output", str(out)]  # fmt: skip
    return main(argv)


@pytest.fixture(scope="module")
def bench(world, in_fixtures, tmp_path_factory):
    """One bench, counting how often the base model is built."""
    from rankbench.bench.evaluators import adapter_swap

    built = []
    mp = pytest.MonkeyPatch()
    original = adapter_swap.AdapterHost.__init__

    def counting(self, *a, **k):
        built.append(1)
        return original(self, *a, **k)

    mp.setattr(adapter_swap.AdapterHost, "__init__", counting)
    tmp = tmp_path_factory.mktemp("bench_lmeval")
    try:
        assert _run(world, _config(tmp), tmp / "out") == 0
    finally:
        mp.undo()
    return tmp / "out", len(built)


def _lm_eval_samples(world, adapter: Path, out: Path) -> dict[int, float]:
    """lm-eval's own run of one adapter folder: {doc_id: acc} from its samples file."""
    rows = lm_eval_samples(world.base, adapter, out, ("rb_mc",), limit=LIMIT)["rb_mc"]
    return {r["doc_id"]: float(r["acc"]) for r in rows}


def test_counts_equal_lm_evals_own_samples_files(bench, world, tmp_path):
    out, _ = bench
    doc = json.loads((out / "bench.json").read_text())
    probe = _lm_eval_samples(world, out / "probe" / "adapter", tmp_path / "probe")
    assert len(probe) == LIMIT
    disagree = 0
    for name in VARIANTS:
        variant = _lm_eval_samples(world, out / "variants" / name / "adapter", tmp_path / name)
        assert variant.keys() == probe.keys()
        variant_only = sum(1 for d in probe if variant[d] == 1 and probe[d] == 0)
        probe_only = sum(1 for d in probe if variant[d] == 0 and probe[d] == 1)
        ci = doc["compressed"][name]["ci"]
        assert (ci["variant_only_correct"], ci["probe_only_correct"], ci["n"]) == (
            variant_only,
            probe_only,
            LIMIT,
        )
        assert doc["compressed"][name]["accuracy"] == pytest.approx(sum(variant.values()) / LIMIT)
        disagree += variant_only + probe_only
    assert doc["probe"]["accuracy"] == pytest.approx(sum(probe.values()) / LIMIT)
    assert disagree > 0  # the variants move some answers: the comparison can fail


def test_base_built_once_and_eval_records_tasks(bench):
    out, built = bench
    assert built == 1  # the probe and both variants share one base model
    for stage in ("probe_eval", *(f"variants/{v}" for v in VARIANTS)):
        rec = json.loads((out / stage / "eval.json").read_text())
        assert rec["metric_key"] == "rb_mc/acc"
        assert rec["tasks"]["rb_mc"]["n_items"] == LIMIT
        assert rec["tasks"]["rb_mc"]["value"] == pytest.approx(rec["value"])
        assert rec["evaluator"]["tasks"]["rb_mc"]["documents"]


def test_provenance_records_lm_eval(bench):
    import lm_eval

    out, _ = bench
    prov = json.loads((out / "provenance" / "stage.json").read_text())["evaluator"]
    assert prov["lm_eval_version"] == lm_eval.__version__
    assert prov["tasks"]["rb_mc"]["config"]["doc_to_text"] == "Q: {{question}}\nA:"
    assert prov["tasks"]["rb_mc"]["metric"] == "acc"
    assert "num_fewshot" in prov


def test_resume_after_a_kill_inside_the_variants(world, in_fixtures, tmp_path, monkeypatch, bench):
    from rankbench.bench import protocol

    cfg, out = _config(tmp_path), tmp_path / "out"
    original, calls = protocol.evaluate_into, []

    def killed(b, dest, adapter, label):
        calls.append(label)
        if label == VARIANTS[1]:
            raise KeyboardInterrupt("killed inside the second variant's evaluation")
        return original(b, dest, adapter, label)

    monkeypatch.setattr(protocol, "evaluate_into", killed)
    assert _run(world, cfg, out) != 0  # the CLI reports the interrupt and keeps the finished stages
    assert calls == ["the adapter", VARIANTS[0], VARIANTS[1]]
    calls.clear()
    monkeypatch.setattr(protocol, "evaluate_into", lambda *a: (calls.append(a[3]), original(*a))[1])
    assert _run(world, cfg, out) == 0
    assert calls == [VARIANTS[1]]  # the finished evaluations are not redone
    ours, ref = (json.loads((p / "bench.json").read_text())["compressed"] for p in (out, bench[0]))
    for name in VARIANTS:
        assert ours[name]["ci"] == ref[name]["ci"]
        assert ours[name]["accuracy"] == ref[name]["accuracy"]


@pytest.mark.parametrize(
    ("task_type", "given", "expected"),
    [
        ("CAUSAL_LM", None, "causal_lm_exact_match"),
        ("SEQ_CLS", None, "seqcls"),
        ("CAUSAL_LM", "seqcls", "seqcls"),
    ],
)
def test_the_profile_follows_the_adapters_task_type(world, tmp_path, task_type, given, expected):
    import shutil

    from rankbench.bench.user_adapter import load_bench_config

    folder = tmp_path / "adapter"
    shutil.copytree(world.r8, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps(dict(config, task_type=task_type)))
    overrides = {"probe.adapter": str(folder), "model.name": str(world.base)}
    if given:
        overrides["task.profile"] = given
    cfg, notes = load_bench_config(_config(tmp_path), overrides)
    assert cfg.task.profile == expected
    assert any(task_type in n for n in notes) == (given is None)


def test_retrain_with_lm_eval_and_no_training_data_exits_2(world, in_fixtures, tmp_path, capsys):
    cfg = tmp_path / "retrain.yaml"
    text = CONFIG.replace("uniform_median: [truncate]", "uniform_median: [truncate, retrain]")
    cfg.write_text(text + "train:\n  steps: 5\ntask:\n  train_size: 40\n")  # a budget, but no dataset
    code = _run(world, cfg, tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2
    assert "uniform_median_retrain need(s) training, but the config lacks training data" in err
    assert "hint:" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "bench.json").exists()


def test_tasks_and_flips_in_bench_json_md_html_and_rebuild(bench, tmp_path):
    import jsonschema

    from rankbench.schemas import load_schema

    out, _ = bench
    doc = json.loads((out / "bench.json").read_text())
    jsonschema.validate(doc, load_schema("bench"))
    preds = {
        stage: {
            r["item_id"]: r
            for r in map(json.loads, (out / stage / "predictions.jsonl").read_text().splitlines())
        }
        for stage in ("probe_eval", *(f"variants/{v}" for v in VARIANTS))
    }
    for name in VARIANTS:
        v = doc["compressed"][name]
        assert v["tasks"]["rb_mc"]["ci"]["n"] == LIMIT
        assert v["tasks"]["rb_mc"]["value"] == pytest.approx(v["accuracy"])  # one task: it is the primary
        lost = {
            i for i, r in preds["probe_eval"].items() if r["score"] > preds[f"variants/{name}"][i]["score"]
        }
        gained = {
            i for i, r in preds["probe_eval"].items() if r["score"] < preds[f"variants/{name}"][i]["score"]
        }
        assert {f["id"] for f in v["flips"]["lost"]} == lost
        assert {f["id"] for f in v["flips"]["gained"]} == gained
        assert len(lost) == v["ci"]["probe_only_correct"] and len(gained) == v["ci"]["variant_only_correct"]
        assert all(f["text"].startswith("Q: ") for f in v["flips"]["lost"] + v["flips"]["gained"])
    md, html = (out / "bench.md").read_text(), (out / "bench.html").read_text()
    assert "## Tasks and flips" in md and "<details><summary>flips of uniform_median" in md
    assert "<details><summary>flips of uniform_median" in html
    assert main(["report", str(out), "--rebuild", "--output", str(tmp_path / "rebuilt")]) == 0
    for name in ("bench.json", "bench.md"):
        assert (tmp_path / "rebuilt" / name).read_bytes() == (out / name).read_bytes(), name


def test_the_example_config_runs_from_the_repository_root(world, tmp_path, monkeypatch):
    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)  # the example task reads its JSONL relative to the repository root
    assert _run(world, root / "examples" / "lm_eval_local.yaml", tmp_path / "out") == 0
    doc = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert doc["probe_quality_gate"]["metric_key"].endswith("arith_mc/acc")
    assert all(v["tasks"]["arith_mc"]["n_items"] == 40 for v in doc["compressed"].values())
