"""Malformed single-file LoRAs: a clear error naming the file, the module and a hint; exit code 2."""

import json
import math
import pickle

import numpy as np
import pytest

from helpers.peft_fixtures import write_safetensors
from helpers.sd_keys import kohya_tensors, small_sdxl_subset, write_kohya
from rankbench.adapters import open_adapter
from rankbench.cli import main
from rankbench.errors import RankbenchError

MODS = small_sdxl_subset(3)[:3]
STEM = MODS[0][0]


def _tensors(**kw):
    return kohya_tensors(MODS, 4, np.random.default_rng(0), alpha=4, **kw)


def _write(tmp_path, tensors, name="bad.safetensors"):
    return write_safetensors(tmp_path / name, tensors, "F32")


def test_truncated_file(tmp_path, capsys):
    path = write_kohya(tmp_path / "k.safetensors", MODS, r=4)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        RankbenchError, match=r"k\.safetensors: is truncated: the header says .*, the file has"
    ):
        open_adapter(path)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and "hint:" in err


def test_down_without_up(tmp_path):
    tensors = _tensors()
    del tensors[f"{STEM}.lora_up.weight"]
    with pytest.raises(RankbenchError, match=rf"module {STEM}: has lora_down but no lora_up"):
        open_adapter(_write(tmp_path, tensors))


def test_up_without_down_in_diffusers_names(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"unet.mid_block.attentions.0.proj_in.lora_B.weight": rng.standard_normal((8, 2))}
    with pytest.raises(
        RankbenchError, match=r"module unet.mid_block.attentions.0.proj_in: has lora_B but no lora_A"
    ):
        open_adapter(_write(tmp_path, tensors))


def test_rank_mismatch(tmp_path):
    tensors = _tensors()
    tensors[f"{STEM}.lora_up.weight"] = tensors[f"{STEM}.lora_up.weight"][:, :3]
    with pytest.raises(
        RankbenchError, match=rf"module {STEM}: lora_down \[4, \d+\] and lora_up \[\d+, 3\] do not pair"
    ):
        open_adapter(_write(tmp_path, tensors))


@pytest.mark.parametrize("value", [math.nan, math.inf, 0.0, -2.0])
def test_bad_alpha(tmp_path, value, capsys):
    tensors = _tensors()
    tensors[f"{STEM}.alpha"] = np.array(value)
    path = _write(tmp_path, tensors)
    with pytest.raises(
        RankbenchError, match=rf"module {STEM}: alpha is {value} \(must be a finite number > 0\)"
    ):
        open_adapter(path)
    assert main(["suggest", str(path)]) == 2
    assert "hint: set" in capsys.readouterr().err


def test_alpha_that_is_not_a_scalar(tmp_path):
    tensors = _tensors()
    tensors[f"{STEM}.alpha"] = np.ones(3)
    with pytest.raises(RankbenchError, match=r"alpha .* must be one float, got F32 \[3\]"):
        open_adapter(_write(tmp_path, tensors))


def test_alpha_without_factors(tmp_path):
    tensors = _tensors()
    tensors["lora_unet_orphan.alpha"] = np.array(4.0)
    with pytest.raises(RankbenchError, match=r"module lora_unet_orphan: has alpha but no LoRA factors"):
        open_adapter(_write(tmp_path, tensors))


def test_no_known_family(tmp_path):
    with pytest.raises(
        RankbenchError, match=r"holds no LoRA weights of a known format \(first keys: model.w\)"
    ):
        open_adapter(_write(tmp_path, {"model.w": np.ones((2, 2))}))


def test_two_formats_for_one_module(tmp_path):
    tensors = _tensors()
    tensors[f"{STEM}.lora.down.weight"] = tensors[f"{STEM}.lora_down.weight"]
    with pytest.raises(RankbenchError, match=r"two tensors play the role A"):
        open_adapter(_write(tmp_path, tensors))


class _Boom:
    def __reduce__(self):
        return (print, ("code ran",))


@pytest.mark.parametrize("suffix", [".ckpt", ".pt"])
def test_pickle_with_code_is_refused(tmp_path, suffix, capsys):
    pytest.importorskip("torch")
    path = tmp_path / f"evil{suffix}"
    path.write_bytes(pickle.dumps({"x": _Boom()}))
    assert main(["audit", str(path)]) == 2
    captured = capsys.readouterr()
    assert "code ran" not in captured.out
    assert "refused to load this pickle: torch.load(weights_only=True) rejected it" in captured.err


def test_pickle_state_dict_is_read_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    tensors = {k: torch.tensor(v, dtype=torch.float32) for k, v in _tensors().items()}
    path = tmp_path / "lora.pt"
    torch.save(tensors, path)
    with open_adapter(path) as adapter:
        assert adapter.format == "kohya" and len(adapter.specs) == 3


def test_compress_refuses_a_pickle(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path = tmp_path / "lora.pt"
    torch.save({k: torch.tensor(v, dtype=torch.float32) for k, v in _tensors().items()}, path)
    assert main(["compress", str(path), "--plan", "rank:2", "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "compression reads a kohya LoRA from a .safetensors file, not a pickle" in capsys.readouterr().err


def test_compress_refuses_existing_out_and_wrong_suffix(tmp_path, capsys):
    path = write_kohya(tmp_path / "k.safetensors", MODS, r=4)
    assert main(["compress", str(path), "--plan", "rank:2", "--out", str(path)]) == 2
    assert "output file exists" in capsys.readouterr().err
    assert main(["compress", str(path), "--plan", "rank:2", "--out", str(tmp_path / "dir")]) == 2
    assert "is one .safetensors file" in capsys.readouterr().err
    assert main(["compress", str(path), "--plan", "rank:2", "--method", "random_subspace", "--out", str(tmp_path / "o.safetensors")]) == 2  # fmt: skip
    assert "is compressed by truncation" in capsys.readouterr().err


def test_compress_refuses_dora(tmp_path, capsys):
    tensors = _tensors()
    tensors[f"{STEM}.dora_scale"] = np.ones((1, MODS[0][2]))
    path = _write(tmp_path, tensors)
    assert main(["compress", str(path), "--plan", "rank:2", "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "is a DoRA adapter" in capsys.readouterr().err


DIFFUSERS_META = {  # lora_adapter_metadata text: the pinned message
    "not json": ("{r: 4}", r"'lora_adapter_metadata' is not valid JSON \(Expecting property name"),
    "NaN": ('{"lora_alpha": NaN}', r"'lora_adapter_metadata' is not valid JSON \(NaN is not a JSON number"),
    "a list": ("[4, 8]", r"'lora_adapter_metadata' must be a JSON object \(a PEFT LoRA config\), got a list"),
    "alpha a string": ('{"unet.r": 4, "unet.lora_alpha": "8"}', r"'lora_adapter_metadata': unet: 'lora_alpha' must be a number, got '8'"),
    "alpha a boolean": ('{"lora_alpha": true}', r"'lora_adapter_metadata': 'lora_alpha' must be a number, got True"),
    "r zero": ('{"unet.r": 0, "unet.lora_alpha": 8}', r"'lora_adapter_metadata': unet: 'r' must be a positive integer, got 0"),
    "pattern a string": ('{"lora_alpha": 8, "rank_pattern": "x"}', r"'lora_adapter_metadata': 'rank_pattern' must be an object of pattern -> value, got str"),
}  # fmt: skip


@pytest.mark.parametrize("case", DIFFUSERS_META)
def test_diffusers_header_config_that_is_not_a_peft_config(tmp_path, case, capsys):
    # diffusers' alpha comes from this header value; a broken one was a traceback or silently alpha = r
    from helpers.sd_keys import diffusers_tensors

    text, message = DIFFUSERS_META[case]
    tensors = diffusers_tensors(MODS[:2], 4, np.random.default_rng(0))
    path = write_safetensors(tmp_path / "d.safetensors", tensors, "F32", {"lora_adapter_metadata": text})
    with pytest.raises(RankbenchError, match=r"d\.safetensors: header __metadata__ " + message):
        open_adapter(path)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "hint: the header metadata was edited" in err


@pytest.mark.parametrize("name", ["kohya_file", "diffusers_file", "lycoris_file"])
def test_every_single_file_reader_checks_the_header(tmp_path, name, capsys):
    from helpers.fuzz_sources import SINGLE_FILES

    path = SINGLE_FILES[name](tmp_path / "lora.safetensors")
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    key = sorted(k for k in header if k != "__metadata__")[0]
    header[key]["dtype"] = ["F32"]  # the second traceback: unhashable type: 'list'
    blob = json.dumps(header).encode()
    path.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])
    rule = rf"lora\.safetensors: has a corrupt header: entry '{key}': dtype must be a safetensors dtype name"
    with pytest.raises(RankbenchError, match=rule):
        open_adapter(path)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith(f"error: {path}: has a corrupt header: entry '{key}'")
