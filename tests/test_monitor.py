"""SpectrumMonitor in a plain loop: live factors against PEFT's own ΔW, the warnings, the timeline file."""

import json
import logging

import numpy as np
import pytest

from helpers.tiny_trainer import tiny_peft_model
from rankbench.cli import main
from rankbench.errors import RankbenchError
from rankbench.monitor import TIMELINE_FILE, MonitorThresholds, SpectrumMonitor
from rankbench.monitor.live import lora_layers, module_path
from rankbench.monitor.timeline import read_timeline

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

NOW = MonitorThresholds(warmup_steps=0)


def alerts(caplog, kind_text):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "rankbench.monitor" and kind_text in r.getMessage()
    ]


def test_live_spectrum_matches_peft_delta_weight_with_patterns_and_rslora(tmp_path):
    model = tiny_peft_model(init_lora_weights=False, use_rslora=True, rank_pattern={"query": 2},
                            alpha_pattern={"value": 3}).double()  # fmt: skip
    sample = SpectrumMonitor(model, every_n_steps=1).sample(1)
    rows = {row.name: row for row in sample.modules}
    layers = dict(lora_layers(model))
    assert sorted(rows) == sorted(layers) and len(rows) == 4
    for name, layer in layers.items():
        delta = layer.get_delta_weight("default").detach().double().numpy()
        ref = np.linalg.svd(delta, compute_uv=False)[: rows[name].r]
        r, alpha = (2, 8) if name.endswith("query") else (4, 3)  # rank_pattern, alpha_pattern, rsLoRA
        assert (rows[name].r, rows[name].scale) == (r, pytest.approx(alpha / np.sqrt(r), rel=1e-15))
        np.testing.assert_allclose(rows[name].singular_values, ref, rtol=0, atol=1e-9 * ref[0])
        assert rows[name].sigma_1 == pytest.approx(ref[0], rel=1e-9)
        assert rows[name].frobenius_norm == pytest.approx(np.linalg.norm(delta), rel=1e-9)
    model.save_pretrained(tmp_path / "a")  # names are those of `rankbench audit`
    from rankbench.auditor import audit

    assert [m.name for m in audit(tmp_path / "a").modules] == [row.name for row in sample.modules]


def test_module_path_drops_wrapper_prefixes():
    assert module_path("module.base_model.model.bert.encoder.layer.0.attention.self.query") == (
        "bert.encoder.layer.0.attention.self.query"
    )
    assert module_path("_orig_mod.base_model.model.x._fsdp_wrapped_module.q") == "x.q"


def _layer(model, i=0):
    return [layer for _, layer in lora_layers(model)][i]


def test_planted_growing_rank1_component_triggers_runaway_once(tmp_path, caplog):
    model = tiny_peft_model(init_lora_weights=False)
    target, layer = list(lora_layers(model))[1]
    B = layer.lora_B["default"].weight
    u = torch.randn(B.shape[0], generator=torch.Generator().manual_seed(3))
    only_zero_is_inert = MonitorThresholds(
        warmup_steps=0, inert_relative=0.0
    )  # the others end up 1000x smaller
    mon = SpectrumMonitor(model, output_dir=tmp_path, every_n_steps=1, thresholds=only_zero_is_inert)
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        for step in range(1, 11):
            with torch.no_grad():
                B[:, 0] = 2.0**step * u  # one direction doubling at every step
            mon.step(step)
    found = alerts(caplog, "σ₁ grew")
    assert len(found) == 1 and target in found[0]
    others = [name for name, _ in lora_layers(model) if name != target]
    assert not any(name in found[0] for name in others)
    lines, _ = read_timeline(tmp_path / TIMELINE_FILE)
    assert [a["kind"] for x in lines for a in x["alerts"]] == ["runaway"]
    assert len(lines) == 10


def test_steady_factors_do_not_trigger_runaway_or_collapse(caplog):
    model = tiny_peft_model(init_lora_weights=False)
    mon = SpectrumMonitor(model, every_n_steps=1, thresholds=NOW)
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        for step in range(1, 12):
            mon.step(step)
    assert not caplog.records


def test_rank_collapse_to_energy_rank_one(caplog):
    model = tiny_peft_model(init_lora_weights=False)
    name, layer = next(iter(lora_layers(model)))
    mon = SpectrumMonitor(model, every_n_steps=1, thresholds=NOW)
    mon.step(1)
    with torch.no_grad():
        layer.lora_B["default"].weight[:, 1:] = 0.0  # B keeps one column: ΔW has rank 1
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        mon.step(2)
        mon.step(3)
    found = alerts(caplog, "energy rank fell to 1")
    assert len(found) == 1 and name in found[0]


def test_zero_B_is_inert_only_after_warmup(caplog):
    model = tiny_peft_model()  # PEFT's default init: B = 0, ΔW = 0 everywhere
    mon = SpectrumMonitor(model, every_n_steps=5, thresholds=MonitorThresholds(warmup_steps=10))
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        for step in range(1, 10):
            mon.step(step)
        assert not caplog.records
        mon.step(10)
    found = alerts(caplog, "inert")
    assert len(found) == 1 and "the adapter is inert" in found[0] and "4 module(s)" in found[0]
    assert mon.latest.aggregates["inert_modules"] == 4


def test_thresholds_are_validated_all_at_once():
    with pytest.raises(RankbenchError, match=r"inert_relative: expected in \[0, 1\), got 2.*runaway_factor"):
        MonitorThresholds(inert_relative=2, runaway_factor=0.5)
    assert MonitorThresholds().warmup_for(1000) == 100 and MonitorThresholds().warmup_for(None) == 100
    assert MonitorThresholds(warmup_steps=3).warmup_for(1000) == 3


def test_sharded_factors_skip_the_sample_with_one_note(tmp_path, caplog):
    model = tiny_peft_model()
    _layer(model).lora_A["default"].weight = torch.nn.Parameter(torch.empty(0))  # as ZeRO-3 leaves it
    mon = SpectrumMonitor(model, output_dir=tmp_path, every_n_steps=1)
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        assert mon.step(1) is None and mon.step(2) is None
    assert len(alerts(caplog, "sharded")) == 1 and mon.skipped == 2
    lines, _ = read_timeline(tmp_path / TIMELINE_FILE)
    assert [x["kind"] for x in lines] == ["skipped", "skipped"] and "sharded" in lines[0]["reason"]


def test_nonfinite_factors_warn_and_do_not_raise(caplog):
    model = tiny_peft_model(init_lora_weights=False)
    name, layer = next(iter(lora_layers(model)))
    with torch.no_grad():
        layer.lora_B["default"].weight[0, 0] = float("nan")
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        sample = SpectrumMonitor(model, every_n_steps=1).step(1)
    assert sample.nonfinite == [name] and len(sample.modules) == 3
    assert len(alerts(caplog, "NaN or Inf")) == 1


def test_only_the_main_process_writes(tmp_path):
    mon = SpectrumMonitor(tiny_peft_model(), output_dir=tmp_path, every_n_steps=1, main_process=False)
    assert mon.step(1) is None and mon.finish(1) is None
    assert list(tmp_path.iterdir()) == []


def test_finish_without_checkpoint_writes_live_audit_and_plans(tmp_path, caplog):
    model = tiny_peft_model(init_lora_weights=False)
    mon = SpectrumMonitor(model, output_dir=tmp_path, every_n_steps=100)
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        report = mon.finish(7)
    doc = json.loads((tmp_path / "audit.json").read_text())
    assert doc["kind"] == "audit" and doc["adapter"]["sha256"] == "" and len(doc["modules"]) == 4
    assert [m["singular_values"] for m in doc["modules"]] == [
        list(r.singular_values) for r in mon.latest.modules
    ]
    plans = json.loads((tmp_path / "suggest.json").read_text())
    assert plans["kind"] == "suggest" and set(plans["plans"]) == {
        "uniform_median",
        "uniform_p90",
        "per_layer",
        "budget:0.5",
    }
    assert "save the adapter, then: rankbench compress ADAPTER_DIR --plan uniform_median" in report.message
    assert report.message in caplog.text


def test_timeline_skips_a_torn_last_line_and_rejects_foreign_files(tmp_path, capsys):
    model = tiny_peft_model(init_lora_weights=False)
    mon = SpectrumMonitor(model, output_dir=tmp_path, every_n_steps=2)
    for step in range(1, 7):
        mon.step(step)
    path = tmp_path / TIMELINE_FILE
    with path.open("a") as fh:
        fh.write('{"schema_version": 1, "kind": "sam')  # killed inside a write
    lines, notes = read_timeline(path)
    assert [x["step"] for x in lines] == [2, 4, 6] and notes == ["skipped an unfinished last line (34 bytes)"]
    assert main(["audit", "--timeline", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 samples" in out and "warnings: none" in out and "note: skipped an unfinished" in out
    assert main(["audit", "--timeline", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["first"]["step"], summary["last"]["step"]) == (2, 6)
    bad = tmp_path / "other.jsonl"
    bad.write_text('{"a": 1}\n')
    assert main(["audit", "--timeline", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 1 is not a rankbench timeline record" in err and "hint:" in err


def test_audit_needs_exactly_one_of_path_and_timeline(tmp_path, capsys):
    assert main(["audit"]) == 2
    assert "give either an adapter PATH or --timeline FILE" in capsys.readouterr().err
    assert main(["audit", str(tmp_path), "--timeline", "x.jsonl"]) == 2
    assert "not both" in capsys.readouterr().err


def _gpt2_conv1d():
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=16)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True,
                      init_lora_weights=False)  # fmt: skip
    return get_peft_model(GPT2LMHeadModel(cfg), lora)


@pytest.mark.parametrize("kind", ["embedding", "conv1d"])
def test_embedding_and_conv1d_layers_match_peft_delta_weight(kind):
    if kind == "embedding":
        model = tiny_peft_model(init_lora_weights=False, target_modules=["word_embeddings", "query"])
    else:
        model = _gpt2_conv1d()
    model = model.double()
    mon = SpectrumMonitor(model)
    rows = {row.name: row for row in mon.sample(1).modules}
    layers = dict(lora_layers(model))
    assert sorted(rows) == sorted(layers) and len(rows) == (3 if kind == "embedding" else 6)
    for name, layer in layers.items():
        delta = layer.get_delta_weight("default").detach().numpy()
        ref = np.linalg.svd(delta, compute_uv=False)[: rows[name].r]
        np.testing.assert_allclose(rows[name].singular_values, ref, rtol=0, atol=1e-9 * ref[0])
    found = {a.name: a.kind for a in mon.latest_audits}
    if kind == "embedding":
        assert found["bert.embeddings.word_embeddings"] == "embedding"
    else:
        assert set(found.values()) == {"conv1d"}


def test_a_failing_sample_or_unwritable_timeline_never_stops_training(tmp_path, monkeypatch, caplog):
    import rankbench.monitor.core as core

    model = tiny_peft_model(init_lora_weights=False)
    mon = SpectrumMonitor(model, output_dir=tmp_path, every_n_steps=1)

    def broken(_model):
        raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        monkeypatch.setattr(core, "measure", broken)
        assert mon.step(1) is None and mon.step(2) is None
        monkeypatch.undo()
        blocked = tmp_path / "file"
        blocked.write_text("")
        mon2 = SpectrumMonitor(model, output_dir=blocked, every_n_steps=1)  # a file where a folder should be
        assert mon2.step(1) is not None and mon2.step(2) is not None
    assert len(alerts(caplog, "sample failed: RuntimeError: boom")) == 1
    assert len(alerts(caplog, "the timeline stops here")) == 1 and mon2.output_dir is None
    lines, _ = read_timeline(tmp_path / TIMELINE_FILE)
    assert [x["kind"] for x in lines] == ["skipped", "skipped"]


def test_timeline_cli_lists_the_warnings(tmp_path, capsys):
    model = tiny_peft_model()  # B = 0: inert once the warm-up is over
    mon = SpectrumMonitor(
        model, output_dir=tmp_path, every_n_steps=1, thresholds=MonitorThresholds(warmup_steps=2)
    )
    for step in range(1, 4):
        mon.step(step)
    assert main(["audit", "--timeline", str(tmp_path / TIMELINE_FILE)]) == 0
    out = capsys.readouterr().out
    assert "warnings: 1" in out and "step 2: inert: the adapter is inert" in out
