"""`rankbench audit` and rankbench.audit(): the JSON contract, the text report, the options."""

import json
import subprocess
import sys

import numpy as np
import pytest

import rankbench
from helpers.peft_fixtures import lora_config, planted_factors, random_pairs, write_adapter
from helpers.schemas import assert_valid
from rankbench.auditor import SCHEMA_VERSION, AuditResult, audit
from rankbench.cli import main

MODULE_KEYS = {"name", "r", "alpha", "scale", "shape", "singular_values", "frobenius_norm", "spectral_norm",
               "stable_rank", "effective_rank", "energy_rank", "utilization"}  # fmt: skip
ADAPTER_KEYS = {"path", "sha256", "peft_type", "base_model", "target_modules", "use_rslora", "use_dora"}


@pytest.fixture
def adapter(tmp_path):
    rng = np.random.default_rng(0)
    pairs = random_pairs(rng, n=3, r=4)
    B, A = planted_factors(rng, 24, 16, 4, 1, 1e-9)  # rank 1 plus a 1e-9 floor
    pairs["model.layers.2.self_attn.q_proj"] = (A, B)
    config = lora_config(r=4, alpha=8, base_model_name_or_path="tiny/llama")
    return write_adapter(tmp_path / "adapter", pairs, config=config)


def test_json_contract(adapter, capsys):
    assert main(["audit", "--json", str(adapter)]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)  # stdout is exactly one JSON document
    assert err == ""
    assert doc["schema_version"] == SCHEMA_VERSION and doc["kind"] == "audit"
    assert_valid(doc, "audit")
    assert set(doc["adapter"]) >= ADAPTER_KEYS
    assert doc["adapter"]["base_model"] == "tiny/llama"
    assert len(doc["adapter"]["sha256"]) == 64
    assert isinstance(doc["flags"], list)
    assert len(doc["modules"]) == 3
    for mod in doc["modules"]:
        assert set(mod) >= MODULE_KEYS
        assert len(mod["singular_values"]) == mod["r"] == 4
        assert mod["shape"] == [24, 16]
        assert set(mod["energy_rank"]) == {"0.9", "0.95", "0.99"}
        assert mod["singular_values"] == sorted(mod["singular_values"], reverse=True)
    s = doc["summary"]
    assert s["total_lora_params"] == 3 * 4 * (24 + 16)
    for key in ("utilization_mean", "energy_rank_90_p50", "energy_rank_90_p90"):
        assert isinstance(s[key], float)
    assert "sigma^2" in doc["definitions"]["energy_rank"]


def test_planted_module_is_the_most_wasteful(adapter):
    result = rankbench.audit(adapter)
    planted = next(m for m in result.modules if m.name == "model.layers.2.self_attn.q_proj")
    assert planted.energy_rank == {"0.9": 1, "0.95": 1, "0.99": 1}
    assert 0 < planted.singular_values[1] < 1e-6 * planted.singular_values[0]  # the floor is reported
    assert result.summary.most_wasteful[0].name == planted.name


def test_round_trip(adapter):
    result = audit(adapter)
    doc = json.loads(json.dumps(result.to_dict()))
    assert AuditResult.from_dict(doc) == result
    with pytest.raises(ValueError, match="not an audit document"):
        AuditResult.from_dict({**doc, "kind": "bench"})
    with pytest.raises(ValueError, match="schema_version 99"):
        AuditResult.from_dict({**doc, "schema_version": 99})


def test_text_report(adapter, capsys):
    assert main(["audit", str(adapter), "--top-wasteful", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("module"))
    assert header.split() == [
        "module",
        "r",
        "shape",
        "scale",
        "sigma1",
        "stable",
        "eff",
        "E90",
        "E95",
        "E99",
        "util",
    ]
    assert "model.layers.10" not in out and "model.layers.2.self_attn.q_proj" in out
    assert "most wasteful (lowest utilization), top 1:\n  model.layers.2.self_attn.q_proj  r=4" in out
    assert "90% energy rank" in out and "flags: none" in out
    assert out.isascii()


def test_layers_view(adapter, capsys):
    assert main(["audit", str(adapter), "--layers"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.split("\n\n")[1].splitlines()[2:]]  # the table after its header
    assert [row[0] for row in rows] == ["0", "1", "2"]
    assert rows[2][4] == "1.0"  # mean E99 of layer 2 (the planted module)


def test_gram_method_is_flagged(adapter, capsys):
    assert main(["audit", "--json", "--method", "gram", str(adapter)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method"] == "gram" and "gram_method" in doc["flags"]
    assert {m["route"] for m in doc["modules"]} == {"gram"}
    assert main(["audit", "--method", "gram", str(adapter)]) == 0
    assert "gram_method: computed with --method gram" in capsys.readouterr().out


def test_usage_errors_exit_2(adapter, capsys):
    with pytest.raises(SystemExit) as info:
        main(["audit", str(adapter), "--top-wasteful", "-1"])
    assert info.value.code == 2
    assert "expected 0 or more, got -1" in capsys.readouterr().err


def test_workers_give_identical_results(adapter):
    assert audit(adapter, workers=1) == audit(adapter, workers=3)


def test_untrained_and_partly_untrained(tmp_path):
    rng = np.random.default_rng(0)
    pairs = random_pairs(rng, n=2)
    pairs["model.layers.0.self_attn.q_proj"][1][:] = 0.0
    result = audit(write_adapter(tmp_path / "half", pairs))
    assert "partly_untrained" in result.flags and "untrained" not in result.flags
    pairs["model.layers.1.self_attn.q_proj"][1][:] = 0.0
    assert "untrained" in audit(write_adapter(tmp_path / "none", pairs)).flags


def test_bf16_written_without_torch(tmp_path):
    rng = np.random.default_rng(0)
    pairs = random_pairs(rng, n=1, r=4)
    result = audit(write_adapter(tmp_path / "bf16", pairs, dtype="BF16"))
    (mod,) = result.modules
    A, B = pairs["model.layers.0.self_attn.q_proj"]

    def bf16(x):  # truncation, as the helper writes it
        return ((x.astype(np.float32).view(np.uint32) >> 16) << 16).view(np.float32).astype(np.float64)

    ref = np.linalg.svd(2.0 * bf16(B) @ bf16(A), compute_uv=False)[:4]
    assert mod.dtype == "bfloat16"
    assert np.allclose(mod.singular_values, ref, rtol=1e-12)


def test_cli_subprocess_end_to_end(adapter):
    proc = subprocess.run([sys.executable, "-m", "rankbench", "audit", "--json", str(adapter)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["n_modules"] == 3
