"""Files the bench writes travel: the modes a normal write gets under the user's umask (0644 files and 0755
folders under umask 022), including what a library saved for us: PEFT's save_pretrained alone leaves
adapter_model.safetensors 0600, and temporary files and folders start private.

Adapters name a portable base model (a hub id, never the folder inside this virtual environment)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rankbench.io import atomic_write_json, atomic_write_text, give_normal_modes, normal_modes


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_normal_modes_follow_the_umask(umask):
    assert normal_modes() == (0o666 & ~umask, 0o777 & ~umask)
    assert normal_modes() == ((0o644, 0o755) if umask == 0o022 else (0o600, 0o700))


def test_atomic_writes_get_the_mode_of_a_plain_open(umask, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_json(tmp_path / "new" / "a.json", {"a": 1})
    atomic_write_text(tmp_path / "b.md", "b")
    assert mode(tmp_path / "new" / "a.json") == mode(tmp_path / "b.md") == mode(plain)
    assert mode(tmp_path / "new") == 0o777 & ~umask


def test_give_normal_modes_fixes_a_private_tree_and_leaves_links_alone(umask, tmp_path):
    root = tmp_path / "saved"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "w.bin").write_bytes(b"x")
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o600)
    (root / "link").symlink_to(outside)
    for p in (root / "sub" / "w.bin", root / "sub", root):
        os.chmod(p, 0o700 if p.is_dir() else 0o600)
    give_normal_modes(root)
    assert mode(root) == mode(root / "sub") == 0o777 & ~umask
    assert mode(root / "sub" / "w.bin") == 0o666 & ~umask
    assert mode(outside) == 0o600


def _peft_model():
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model

    from helpers.peft_fixtures import tiny_bert

    base = tiny_bert(classifier=True)
    base.config.name_or_path = "/home/someone/.venv/lib/site-packages/some_wheel/model"
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False)
    return get_peft_model(base, lora)


def test_peft_alone_leaves_the_weights_private_and_save_adapter_does_not(tmp_path):
    import json

    from rankbench.bench.config import BenchConfig
    from rankbench.bench.sources import portable_base
    from rankbench.bench.train import save_adapter

    old = os.umask(0o022)
    try:
        model = _peft_model()
        model.save_pretrained(str(tmp_path / "plain"))
        cfg = BenchConfig.from_dict({"model": {"name": "all-minilm-l6-v2"}})
        save_adapter(model, tmp_path / "ours", portable_base(cfg.model))
    finally:
        os.umask(old)
    # the library's own behaviour that we correct (if PEFT fixes it, this test says so)
    assert mode(tmp_path / "plain" / "adapter_model.safetensors") == 0o600
    ours = tmp_path / "ours"
    assert mode(ours) == 0o755
    assert {p.name: mode(p) for p in ours.iterdir()} == {
        "adapter_model.safetensors": 0o644,
        "adapter_config.json": 0o644,
        "README.md": 0o644,
    }
    config = json.loads((ours / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    card = (ours / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert "/home/someone" not in card and "/home/someone" not in json.dumps(config)
    # the model in memory keeps its own name: only the saved files are portable
    assert model.get_base_model().config.name_or_path.startswith("/home/someone")


def test_portable_base_names(tmp_path):
    from rankbench.bench.config import BenchConfig
    from rankbench.bench.sources import portable_base

    def base(**model):
        return portable_base(BenchConfig.from_dict({"model": model}).model)

    assert base(name="all-minilm-l6-v2").name == "sentence-transformers/all-MiniLM-L6-v2"
    assert base(name="smollm2-135m-instruct").name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    pinned = base(name="org/model", revision="abc123")
    assert (pinned.name, pinned.revision) == ("org/model", "abc123")
    assert base(name="./my-model").name == "./my-model"  # the user's own folder, as they named it


def test_a_compressed_adapter_folder_is_not_private(peft_adapters, tmp_path):
    from rankbench.auditor import audit
    from rankbench.suggest.compress import compress_adapter
    from rankbench.suggest.plans import make_plan

    src = peft_adapters["bert_query_value"].folder
    old = os.umask(0o022)
    try:
        compress_adapter(src, make_plan("uniform_median", audit(src)), tmp_path / "small")
    finally:
        os.umask(old)
    small = tmp_path / "small"
    assert mode(small) == 0o755
    files = sorted(small.iterdir())
    assert len(files) >= 2 and all(mode(p) == 0o644 for p in files), [(p.name, oct(mode(p))) for p in files]


@pytest.mark.slow
def test_a_bench_run_under_umask_022_writes_readable_files(tmp_path):
    """The whole tiny bench through the CLI, and the audit page: every file 0644, every folder 0755."""
    pytest.importorskip("peft")
    pytest.importorskip("matplotlib")
    from helpers.tiny_bench import tiny_bench_config

    config = tiny_bench_config(tmp_path, train={"steps": 40}, task={"probe_gate": {"min_value": 0.0}})
    out = tmp_path / "run"
    env = {**os.environ, "RANKBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}

    def cli(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "rankbench", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=lambda: os.umask(0o022),
        )
        assert proc.returncode == 0, proc.stderr

    cli("run", "--config", str(config), "--output", str(out), "--quiet")
    cli("audit", str(out / "probe" / "adapter"), "--html", str(tmp_path / "audit.html"))
    assert mode(tmp_path / "audit.html") == 0o644
    for name in ("bench.json", "bench.md", "bench.html"):
        assert mode(out / name) == 0o644, name
    weights = sorted(out.rglob("adapter_model.safetensors"))
    assert len(weights) >= 3  # the probe and the variants
    private = [str(p.relative_to(out)) for p in out.rglob("*") if not p.is_symlink()
               and mode(p) != (0o755 if p.is_dir() else 0o644)]  # fmt: skip
    assert private == []


def test_a_bench_adapter_names_the_builtin_it_came_from(tmp_path):
    """The hub id the bench writes for a builtin reads back as that builtin: no hub needed to bench it."""
    from rankbench.bench.user_adapter import _base_model

    assert _base_model({"base_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2"}, tmp_path) == (
        "all-minilm-l6-v2"
    )
    assert _base_model({"base_model_name_or_path": "org/other"}, tmp_path) == "org/other"
