"""Bad input: each case names the file and the problem, exits 2 from the CLI, and never shows a traceback."""

import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

from helpers.peft_fixtures import lora_config, random_pairs, write_adapter, write_safetensors
from rankbench.adapters import open_adapter
from rankbench.auditor import audit
from rankbench.cli import main
from rankbench.errors import RankbenchError, RankbenchWarning

WEIGHTS = "adapter_model.safetensors"


def good(folder, **kw):
    return write_adapter(folder, random_pairs(np.random.default_rng(0)), **kw)


def truncated(folder):
    good(folder)
    path = folder / WEIGHTS
    path.write_bytes(path.read_bytes()[:-100])
    return folder


def header_not_json(folder):
    good(folder)
    (folder / WEIGHTS).write_bytes(struct.pack("<Q", 6) + b"{nope}" + b"\0" * 64)
    return folder


def header_too_long(folder):
    good(folder)
    (folder / WEIGHTS).write_bytes(struct.pack("<Q", 10_000) + b"{}")
    return folder


def tiny_file(folder):
    good(folder)
    (folder / WEIGHTS).write_bytes(b"abc")
    return folder


def bad_offsets(folder):
    good(folder)
    path = folder / WEIGHTS
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    first = sorted(k for k in header if k != "__metadata__")[0]
    header[first]["data_offsets"][1] -= 4
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    return folder


def unpaired_shapes(folder):
    rng = np.random.default_rng(0)
    return write_adapter(
        folder,
        {"model.layers.0.self_attn.q_proj": (rng.standard_normal((4, 16)), rng.standard_normal((24, 3)))},
    )


def missing_b(folder):
    folder.mkdir()
    write_safetensors(
        folder / WEIGHTS, {"base_model.model.model.layers.0.q_proj.lora_A.weight": np.ones((4, 8))}
    )
    (folder / "adapter_config.json").write_text(json.dumps(lora_config()))
    return folder


def nan_weight(folder):
    pairs = random_pairs(np.random.default_rng(0))
    pairs["model.layers.1.self_attn.q_proj"][1][2, 1] = np.nan
    return write_adapter(folder, pairs)


def inf_weight(folder):
    pairs = random_pairs(np.random.default_rng(0))
    pairs["model.layers.0.self_attn.q_proj"][0][0, 0] = np.inf
    return write_adapter(folder, pairs)


def empty_adapter(folder):
    return write_adapter(folder, {}, extra={"base_model.model.classifier.weight": np.ones((2, 4))})


def not_an_adapter(folder):
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    return folder


def full_model(folder):
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    write_safetensors(folder / "model.safetensors", {"w": np.ones(2)})
    return folder


def no_weights(folder):
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(lora_config()))
    return folder


def config_not_json(folder):
    good(folder)
    (folder / "adapter_config.json").write_text('{"r": 8,, }')
    return folder


def config_bad_values(folder):
    good(folder, config={"peft_type": "LORA", "r": "eight", "lora_alpha": 16, "use_rslora": "no"})
    return folder


def not_lora(folder):
    good(folder, config={"peft_type": "IA3"})
    return folder


def integer_weights(folder):
    folder.mkdir()
    tensors = {
        "base_model.model.q.lora_A.weight": np.ones((2, 4)),
        "base_model.model.q.lora_B.weight": np.ones((4, 2)),
    }
    write_safetensors(folder / WEIGHTS, tensors, dtype="F32")
    raw = (folder / WEIGHTS).read_bytes().replace(b'"F32"', b'"I32"')
    (folder / WEIGHTS).write_bytes(raw)
    (folder / "adapter_config.json").write_text(json.dumps(lora_config(r=2)))
    return folder


def _edit_header(folder, edit):
    good(folder)
    path = folder / WEIGHTS
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    edit(header)
    blob = json.dumps(header).encode()
    path.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    return folder


def metadata_a_list(folder):  # once a traceback: dict() of a list
    return _edit_header(folder, lambda h: h.update({"__metadata__": ["pt"]}))


def dtype_a_list(folder):  # once a traceback: unhashable type: 'list'
    return _edit_header(folder, lambda h: h[sorted(h)[0]].update(dtype=["F32"]))


CASES = {  # name: (make the folder, the pinned message)
    "truncated": (truncated, r"adapter_model\.safetensors: is truncated: the header says \d+ bytes, the file has \d+ bytes"),
    "header not JSON": (header_not_json, r"adapter_model\.safetensors: has a corrupt header: not valid JSON"),
    "header too long": (header_too_long, r"adapter_model\.safetensors: is truncated: the header alone needs 10008 bytes, the file has 10 bytes"),
    "tiny file": (tiny_file, r"adapter_model\.safetensors: is not a safetensors file: only 3 bytes"),
    "bad offsets": (bad_offsets, r"needs 256 bytes but its data_offsets span 252"),
    "unpaired shapes": (unpaired_shapes, r"module model\.layers\.0\.self_attn\.q_proj: lora_A \[4, 16\] and lora_B \[24, 3\] do not pair"),
    "missing B": (missing_b, r"module model\.layers\.0\.q_proj: has lora_A but no lora_B"),
    "NaN": (nan_weight, r"module model\.layers\.1\.self_attn\.q_proj: base_model\.model\.model\.layers\.1\.self_attn\.q_proj\.lora_B\.weight contains NaN or Inf"),
    "Inf": (inf_weight, r"module model\.layers\.0\.self_attn\.q_proj: .*lora_A\.weight contains NaN or Inf"),
    "empty": (empty_adapter, r"adapter_model\.safetensors: holds no LoRA weights \(1 other tensors\): no lora_A/lora_B pairs"),
    "not an adapter": (not_an_adapter, r"is not a PEFT adapter: no adapter_config\.json"),
    "full model": (full_model, r"is a full model folder, not a PEFT adapter: no adapter_config\.json"),
    "no weights": (no_weights, r"has adapter_config\.json but no adapter_model\.safetensors"),
    "config not JSON": (config_not_json, r"adapter_config\.json: is not valid JSON \(line 1, column 9: Expecting property name"),
    "config bad values": (config_bad_values, r"adapter_config\.json: 'r' must be a positive integer, got 'eight'; 'use_rslora' must be true or false, got 'no'"),
    "not LoRA": (not_lora, r"peft_type is 'IA3'; rankbench audits LoRA adapters only"),
    "metadata a list": (metadata_a_list, r"adapter_model\.safetensors: has a corrupt header: entry '__metadata__': __metadata__ must be an object of string -> string, got a list \[\"pt\"\]"),
    "dtype a list": (dtype_a_list, r"adapter_model\.safetensors: has a corrupt header: entry 'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight': dtype must be a safetensors dtype name"),
    "integer weights": (integer_weights, r"tensor 'base_model\.model\.q\.lora_A\.weight' has dtype I32; LoRA factors must be float"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input_raises_a_pinned_message(tmp_path, case):
    make, message = CASES[case]
    folder = make(tmp_path / "adapter")
    with pytest.raises(RankbenchError, match=message) as info:
        audit(folder)
    assert info.value.exit_code == 2
    assert info.value.path is not None and str(tmp_path) in info.value.render()


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_without_traceback(tmp_path, case, capsys):
    make, message = CASES[case]
    folder = make(tmp_path / "adapter")
    assert main(["audit", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("error: ")
    assert __import__("re").search(message, err)


def test_missing_path(tmp_path, capsys):
    with pytest.raises(RankbenchError, match=r"nowhere: no such folder"):
        open_adapter(tmp_path / "nowhere")
    assert main(["audit", str(tmp_path / "nowhere")]) == 2
    assert "hint: pass a folder that holds adapter_config.json" in capsys.readouterr().err


def test_config_rank_disagreeing_with_tensors_warns_and_trusts_tensors(tmp_path):
    folder = good(tmp_path / "a", config=lora_config(r=16))
    with pytest.warns(RankbenchWarning, match=r"r for module model\.layers\.0\.self_attn\.q_proj and 1 more module\(s\) "
                      r"disagrees with the tensors \(config r=16, lora_A/lora_B have r=4\); using the tensor shapes"):  # fmt: skip
        result = audit(folder)
    assert {m.r for m in result.modules} == {4}
    assert {m.scale for m in result.modules} == {8 / 4}  # alpha / tensor r
    assert "rank_mismatch" in result.flags


def test_warning_goes_to_stderr_as_warning_line(tmp_path, capsys):
    folder = good(tmp_path / "a", config=lora_config(r=16))
    assert main(["audit", "--json", str(folder)]) == 0
    out, err = capsys.readouterr()
    json.loads(out)
    assert err.startswith("warning: ") and "disagrees with the tensors" in err


def test_audit_never_writes_into_the_adapter_folder(tmp_path, capsys):
    folder = good(tmp_path / "a")
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert main(["audit", str(folder)]) == 0
    assert main(["audit", "--json", str(folder)]) == 0
    after = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert before == after


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create a file if unpickled


def test_malicious_pickle_never_runs(tmp_path, capsys):
    pytest.importorskip("torch")
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(lora_config()))
    marker = tmp_path / "pwned"
    with open(folder / "adapter_model.bin", "wb") as fh:
        pickle.dump({"base_model.model.q.lora_A.weight": _Exploit(str(marker))}, fh)
    with pytest.raises(
        RankbenchError,
        match=r"adapter_model\.bin: refused to load this pickle: torch\.load\(weights_only=True\) rejected it",
    ):
        open_adapter(folder)
    assert main(["audit", str(folder)]) == 2
    assert "hint: convert it to safetensors" in capsys.readouterr().err
    assert not marker.exists()


def test_pickled_bin_without_torch_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(lora_config()))
    (folder / "adapter_model.bin").write_bytes(b"not even read")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(
        RankbenchError, match=r"adapter_model\.bin: is a pickled PyTorch file; rankbench never unpickles"
    ):
        open_adapter(folder)


def test_torch_saved_bin_is_read_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((4, 16)), rng.standard_normal((24, 4))
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(lora_config()))
    torch.save({"base_model.model.m.q_proj.lora_A.weight": torch.tensor(A, dtype=torch.bfloat16),
                "base_model.model.m.q_proj.lora_B.weight": torch.tensor(B, dtype=torch.bfloat16)},
               folder / "adapter_model.bin")  # fmt: skip
    result = audit(folder)
    (mod,) = result.modules
    assert mod.dtype == "bfloat16" and mod.r == 4 and result.adapter.weights_file == "adapter_model.bin"
    A16 = torch.tensor(A, dtype=torch.bfloat16).double().numpy()
    B16 = torch.tensor(B, dtype=torch.bfloat16).double().numpy()
    ref = np.linalg.svd(2.0 * B16 @ A16, compute_uv=False)[:4]
    assert np.allclose(mod.singular_values, ref, rtol=1e-12)


def test_hub_id_without_huggingface_hub(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(
        RankbenchError,
        match=r"someone/some-adapter is not a local folder, and huggingface_hub is not installed",
    ) as info:
        open_adapter("someone/some-adapter")
    assert info.value.hint.startswith("pip install 'rankbench[hub]'")


def test_hub_id_offline_subprocess(tmp_path):
    """End to end in a fresh process: offline hub → one clear error line, exit 2, no traceback."""
    pytest.importorskip("huggingface_hub")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "rankbench", "audit", "someone/some-adapter", "--revision", "v1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: someone/some-adapter@v1 is not a local folder, and as a hub id it is not "
                                  "in the hub cache and the hub cannot be reached")  # fmt: skip
    assert "HF_HUB_OFFLINE=1 is set" in proc.stderr


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_in_the_config_is_refused_not_echoed(tmp_path, capsys, token):
    # Python's json accepts NaN; echoed into `audit --json` it killed the serialiser with a traceback
    import numpy as np

    from helpers.peft_fixtures import random_pairs, write_adapter
    from rankbench.cli import main

    folder = tmp_path / "a"
    write_adapter(folder, random_pairs(np.random.default_rng(0)))
    path = folder / "adapter_config.json"
    text = path.read_text()
    path.write_text(text.replace('"target_modules": ', f'"target_modules": {token}, "was": ', 1))
    assert main(["audit", "--json", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert (
        "adapter_config.json: is not valid JSON (line 1, column" in err
        and f"{token} is not a JSON number" in err
    )


def test_a_header_length_that_shifts_the_data_is_refused(tmp_path):
    # the header ends in padding spaces, so one byte less still parses; the tensors would then be read
    # one byte off. Like the safetensors library, the tensors must tile the data to the file's end.
    import numpy as np

    from helpers.peft_fixtures import random_pairs, write_adapter
    from rankbench.auditor import audit

    folder = tmp_path / "a"
    write_adapter(folder, random_pairs(np.random.default_rng(1), n=3))
    path = folder / "adapter_model.safetensors"
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8 + n - 1 : 8 + n] == b" "  # the padding this needs
    path.write_bytes((n - 1).to_bytes(8, "little") + raw[8:])
    with pytest.raises(
        RankbenchError, match=r"has 1 bytes after its last tensor: the header length or the offsets"
    ):
        audit(folder, workers=1)
    path.write_bytes(raw + b"\0\0")
    with pytest.raises(RankbenchError, match=r"has 2 bytes after its last tensor"):
        audit(folder, workers=1)
