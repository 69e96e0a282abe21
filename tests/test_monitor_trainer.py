"""SpectrumMonitorCallback in a real transformers.Trainer on a tiny BERT with a real PEFT LoRA."""

import json
import logging

import numpy as np
import pytest

from helpers.tiny_trainer import make_trainer, tiny_peft_model
from rankbench.cli import main
from rankbench.monitor import TIMELINE_FILE, MonitorThresholds
from rankbench.monitor.timeline import read_timeline, summarize_timeline

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")
from rankbench.integrations.transformers import SpectrumMonitorCallback  # noqa: E402


class Recorder(transformers.TrainerCallback):
    """Stands for TensorBoard / W&B: a reporting callback the Trainer calls before user callbacks."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append((state.global_step, dict(logs)))


class StopAt(transformers.TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def cli_json(capsys, *argv):
    capsys.readouterr()  # drop what the Trainer printed
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def monitor_messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "rankbench.monitor"]


def test_logged_scalars_equal_the_audit_of_the_saved_checkpoint(tmp_path, capsys, caplog):
    recorder = Recorder()
    trainer = make_trainer(tiny_peft_model(), tmp_path, [recorder, SpectrumMonitorCallback(every_n_steps=4)],
                           save_strategy="steps", save_steps=6)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        trainer.train()
    logged = {step: logs for step, logs in recorder.logs if "rankbench/utilization_median" in logs}
    assert sorted(logged) == [6, 9, 12]  # the first log after the samples at 4, 8 and the last step
    ckpt = tmp_path / "checkpoint-12"
    doc = cli_json(capsys, "audit", "--json", str(ckpt))
    mods = doc["modules"]
    util = [m["utilization"] for m in mods]
    expect = {
        "utilization_median": np.median(util),
        "utilization_max": max(util),
        "utilization_min": min(util),
        "sigma1_max": max(m["spectral_norm"] for m in mods),
        "energy_rank_90_median": np.median([m["energy_rank"]["0.9"] for m in mods]),
        "inert_modules": 0,
    }
    assert {k.removeprefix("rankbench/"): v for k, v in logged[12].items() if k.startswith("rankbench/")} == (
        pytest.approx(expect, rel=1e-12)
    )
    assert json.loads((ckpt / "audit.json").read_text()) == doc
    assert json.loads((ckpt / "suggest.json").read_text()) == cli_json(capsys, "suggest", "--json", str(ckpt))
    final = [m for m in monitor_messages(caplog) if "really uses rank" in m]
    assert len(final) == 1 and f"rankbench compress {ckpt} --plan uniform_median" in final[0]
    lines, notes = read_timeline(tmp_path / TIMELINE_FILE)
    assert [x["step"] for x in lines] == [4, 8, 12] and notes == []


def _frozen_B_optimizer(model):
    a = [p for n, p in model.named_parameters() if p.requires_grad and "lora_B" not in n]
    b = [p for n, p in model.named_parameters() if "lora_B" in n]
    return torch.optim.AdamW([{"params": a, "lr": 5e-3}, {"params": b, "lr": 0.0}])


def test_lr_zero_on_B_triggers_inert_and_a_normal_run_does_not(tmp_path, caplog):
    cb = SpectrumMonitorCallback(every_n_steps=2, thresholds=MonitorThresholds(warmup_steps=4))
    model = tiny_peft_model()  # PEFT's default init: B = 0
    trainer = make_trainer(model, tmp_path / "frozen", [cb], optimizers=(_frozen_B_optimizer(model), None))
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        trainer.train()
    inert = [m for m in monitor_messages(caplog) if "inert" in m]
    assert len(inert) == 1 and "the adapter is inert" in inert[0] and "attention.self.query" in inert[0]
    caplog.clear()
    cb = SpectrumMonitorCallback(every_n_steps=2, thresholds=MonitorThresholds(warmup_steps=4))
    with caplog.at_level(logging.WARNING, logger="rankbench.monitor"):
        make_trainer(tiny_peft_model(), tmp_path / "normal", [cb]).train()
    messages = monitor_messages(caplog)
    assert not [m for m in messages if "inert" in m] and len(messages) == 1  # only the final line


def test_timeline_is_valid_after_an_interrupted_run(tmp_path, capsys):
    trainer = make_trainer(tiny_peft_model(), tmp_path, [SpectrumMonitorCallback(every_n_steps=2), StopAt(7)])
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    raw = (tmp_path / TIMELINE_FILE).read_text()
    assert raw.endswith("\n") and all(json.loads(line)["kind"] == "sample" for line in raw.splitlines())
    summary = summarize_timeline(tmp_path / TIMELINE_FILE)
    assert (summary["samples"], summary["first"]["step"], summary["last"]["step"]) == (3, 2, 6)
    assert not (tmp_path / "audit.json").exists()  # the run never ended
    capsys.readouterr()
    assert main(["audit", "--timeline", str(tmp_path / TIMELINE_FILE)]) == 0
    assert "3 samples" in capsys.readouterr().out


def test_losses_are_identical_with_and_without_the_callback(tmp_path):
    def losses(callbacks, out):
        trainer = make_trainer(tiny_peft_model(), out, callbacks, logging_steps=1)
        trainer.train()
        return [h["loss"] for h in trainer.state.log_history if "loss" in h]

    with_cb = losses([SpectrumMonitorCallback(every_n_steps=1)], tmp_path / "with")
    without = losses([], tmp_path / "without")
    assert len(without) == 12 and with_cb == without
    assert len(read_timeline(tmp_path / "with" / TIMELINE_FILE)[0]) == 12


def test_no_checkpoint_at_the_end_writes_the_live_audit_into_output_dir(tmp_path):
    trainer = make_trainer(tiny_peft_model(), tmp_path, [SpectrumMonitorCallback(every_n_steps=5)])
    trainer.train()
    doc = json.loads((tmp_path / "audit.json").read_text())
    last = read_timeline(tmp_path / TIMELINE_FILE)[0][-1]
    assert last["step"] == 12 and doc["adapter"]["source"] == "live model (rankbench.monitor)"
    assert [m["singular_values"] for m in doc["modules"]] == [m["singular_values"] for m in last["modules"]]
    assert doc["adapter"]["target_modules"] == ["query", "value"]
    assert (tmp_path / "suggest.json").is_file()


def test_every_n_steps_must_be_positive():
    with pytest.raises(ValueError, match="every_n_steps must be >= 1, got 0"):
        SpectrumMonitorCallback(every_n_steps=0)
