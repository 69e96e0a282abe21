"""`rankbench suggest` and `rankbench compress` end to end on a small adapter written with numpy."""

import json

import numpy as np
import pytest

from helpers.numpy_adapter import MODULES, write_adapter
from rankbench.cli import main


@pytest.fixture
def adapter(tmp_path):
    return write_adapter(tmp_path / "adapter")


def test_suggest_prints_a_table_naming_the_rule(adapter, capsys):
    assert main(["suggest", str(adapter), "--rule", "sv_fro:0.9"]) == 0
    out, err = capsys.readouterr()
    assert (
        "rule:    sv_fro:0.9: k₀+1, k₀ = smallest k with √(Σᵢ≤ₖ σᵢ² / Σσᵢ²) ≥ t, ≤ r "
        "(kohya sv_fro; k₀ alone: energy:t²)"
    ) in out
    assert "6 modules, r=8, 1,536 LoRA params; 160 params in other tensors, not counted" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("plan "))
    assert lines[header].split() == ["plan", "rank(s)", "LoRA", "params", "reduction", "discarded", "energy"]
    assert [line.split()[0] for line in lines[header + 1 :]] == [
        "uniform_median",
        "uniform_p90",
        "per_layer",
        "budget:0.5",
    ]
    assert err == ""


def test_suggest_json_is_only_json(adapter, capsys):
    assert main(["suggest", str(adapter), "--json", "--plan", "rank:2", "--plan", "per_layer"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["kind"] == "suggest"
        and doc["rule"] == "energy:0.9"
        and list(doc["plans"]) == ["rank:2", "per_layer"]
    )
    rank2 = doc["plans"]["rank:2"]
    assert rank2["lora_params"] == 6 * 2 * 32 and rank2["param_reduction"] == 0.75
    assert set(rank2["ranks"]) == set(MODULES) and rank2["other_params"] == 160


def test_suggest_writes_nothing(adapter, capsys):
    before = sorted(p.name for p in adapter.iterdir())
    main(["suggest", str(adapter)])
    assert sorted(p.name for p in adapter.iterdir()) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--plan", "budget_params:10"],
            "error: budget of 10 LoRA parameters is below the minimum of 192 (rank 1 for "
            "each of the 6 modules)\nhint: raise the budget to at least 192 parameters\n",
        ),
        (
            ["--plan", "rank:9"],
            "error: rank 9 is above the adapter's r = 8\nhint: a plan can only shrink an adapter: "
            "choose rank:K with K <= 8\n",
        ),
        (
            ["--rule", "energy:0.9x"],
            "error: rule energy needs tau as a fraction in (0, 1], got 'energy:0.9x'\n",
        ),
        (["--rule", "knee"], "error: unknown rule 'knee'\n"),
        (
            ["--plan", "uniform"],
            "error: unknown plan 'uniform'\nhint: choose one of: uniform_median, uniform_p90, "
            "per_layer, budget:FRACTION, budget_params:N, rank:K\n",
        ),
    ],
)
def test_bad_plans_exit_2_without_traceback(adapter, capsys, args, message):
    assert main(["suggest", str(adapter), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and "Traceback" not in err


def test_compress_writes_an_adapter_and_reports(adapter, tmp_path, capsys):
    out_dir = tmp_path / "small"
    assert (
        main(
            [
                "compress",
                str(adapter),
                "--plan",
                "per_layer",
                "--rule",
                "energy:0.95",
                "--out",
                str(out_dir),
                "--json",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert (
        err.startswith(f"wrote {out_dir}: 6 modules at rank ")
        and "per_layer, rule energy:0.95, truncate" in err
    )
    assert record["rule"] == "energy:0.95" and record["plan"]["name"] == "per_layer"
    assert len(record["modules"]) == 6 and record["other_tensors_copied"] == 1
    config = json.loads((out_dir / "adapter_config.json").read_text())
    assert config["modules_to_save"] == ["lm_head"] and config["target_modules"] == ["q_proj", "v_proj"]
    assert (
        main(["suggest", str(out_dir), "--json", "--plan", "rank:1"]) == 0
    )  # the output is an adapter again
    again = json.loads(capsys.readouterr().out)["plans"]["rank:1"]["source_ranks"]
    assert again == record["plan"]["ranks"]


def test_compress_refuses_a_non_empty_out_before_working(adapter, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    assert main(["compress", str(adapter), "--plan", "rank:2", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {tmp_path / 'out'}: output folder is not empty\nhint: choose a new --out folder "
        "(rankbench never overwrites an existing adapter)\n"
    )


def test_compress_refuses_dora(tmp_path, capsys):
    src = write_adapter(tmp_path / "dora", dora=True)
    assert main(["compress", str(src), "--plan", "rank:2", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {src}: is a DoRA adapter; compression by truncation is not supported for DoRA\n"
    )
    assert not (tmp_path / "out").exists()
    assert main(["suggest", str(src), "--plan", "rank:2"]) == 0  # suggest still works, and says what it means
    assert f"warning: {src}: DoRA adapter: the plans rank scale·B·A only" in capsys.readouterr().err


def test_compress_keeps_bf16_and_every_other_key(tmp_path, capsys):
    src = write_adapter(tmp_path / "bf16", dtype="BF16")
    assert (
        main(["compress", str(src), "--plan", "budget:0.5", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    )
    assert capsys.readouterr() == ("", "")

    def header(folder):
        raw = (folder / "adapter_model.safetensors").read_bytes()
        return json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")]), raw

    (old, old_raw), (new, new_raw) = header(src), header(tmp_path / "out")
    assert set(old) == set(new) and {v["dtype"] for k, v in new.items() if k != "__metadata__"} == {"BF16"}
    key = "base_model.model.lm_head.weight"
    assert old[key]["shape"] == new[key]["shape"]

    def data(h, raw, k):
        start = 8 + int.from_bytes(raw[:8], "little")
        return raw[start + h[k]["data_offsets"][0] : start + h[k]["data_offsets"][1]]

    assert data(old, old_raw, key) == data(new, new_raw, key)  # copied byte for byte


def test_registering_the_commands_does_not_load_numpy():
    """BLAS pools are pinned in run(); importing numpy while the parser is built would be too early."""
    import subprocess
    import sys

    code = (
        "import argparse, sys\n"
        "from rankbench.cli import compress, suggest\n"
        "sub = argparse.ArgumentParser().add_subparsers()\n"
        "suggest.register(sub); compress.register(sub)\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_max_rank_caps_every_module_and_the_output_is_read_back(adapter, tmp_path, capsys):
    from rankbench.auditor import audit

    out_dir = tmp_path / "capped"
    args = ["compress", str(adapter), "--plan", "per_layer", "--rule", "energy:0.999", "--out", str(out_dir)]
    assert main([*args, "--max-rank", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["plan"]["max_rank"] == 2 and max(record["plan"]["ranks"].values()) == 2
    assert "capped at 2" in err
    source = {m.name: m.singular_values for m in audit(adapter, workers=1).modules}
    written = {m.name: m.singular_values for m in audit(out_dir, workers=1).modules}
    for name, s in written.items():  # each written ΔW is the rank-k truncation of the source's
        k = record["plan"]["ranks"][name]
        assert len(s) == k <= 2 and np.allclose(s, source[name][:k], rtol=1e-5)
    assert (
        main(["compress", str(adapter), "--plan", "rank:4", "--out", str(tmp_path / "x"), "--max-rank", "0"])
        == 2
    )
    assert "--max-rank must be a positive integer, got 0" in capsys.readouterr().err


def test_the_read_back_check_catches_a_written_adapter_that_is_not_the_truncation(adapter, tmp_path):
    from rankbench.adapters.safetensors_file import SafetensorsFile
    from rankbench.errors import RankbenchError
    from rankbench.suggest.compress import compress_adapter
    from rankbench.suggest.plans import make_plan
    from rankbench.suggest.spectra import compute_spectra
    from rankbench.suggest.verify import verify_truncation

    spectra = compute_spectra(adapter, workers=1)
    plan = make_plan("rank:2", spectra)
    out_dir = tmp_path / "out"
    compress_adapter(adapter, plan, out_dir, spectra=spectra)
    assert verify_truncation(out_dir, spectra, plan) == 6
    path = out_dir / "adapter_model.safetensors"
    with SafetensorsFile(path) as f:  # scale one B factor by 2: a valid file with the wrong ΔW
        key = sorted(k for k in f.tensors if k.endswith("lora_B.weight"))[0]
        info = f.tensors[key]
    raw = bytearray(path.read_bytes())
    values = np.frombuffer(bytes(raw[info.begin : info.end]), dtype=np.float32) * 2
    raw[info.begin : info.end] = values.astype(np.float32).tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(RankbenchError, match=r"does not reproduce its rank-2 truncation"):
        verify_truncation(out_dir, spectra, plan)
