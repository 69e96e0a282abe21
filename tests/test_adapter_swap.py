"""Swapping adapters on one loaded base computes what a fresh PeftModel.from_pretrained computes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from helpers.lm_eval_world import build_world  # noqa: E402
from rankbench.bench.evaluators.adapter_swap import AdapterHost  # noqa: E402
from rankbench.errors import RankbenchError  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("swap"))


def _fresh_logits(world, folder, ids):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(world.base), str(folder)).eval()
    with torch.no_grad():
        return model(ids).logits


def _logits(host, ids):
    with torch.no_grad():
        return host.model(ids).logits


def test_swaps_in_place_and_to_new_layouts_give_the_fresh_models_logits(world, tmp_path):
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[1, 5, 9, 14, 22, 30, 7, 3]])
    rslora = tmp_path / "rslora"  # another scaling rule: loaded as a new adapter
    build_rslora(world, rslora)
    folders = (world.r8, world.r8_other, world.r2, world.patterned, rslora)
    expected = {f: _fresh_logits(world, f, ids) for f in folders}
    for f in folders[1:]:
        assert (expected[world.r8] - expected[f]).abs().max() > 1e-2  # every swap must matter
    base = AutoModelForCausalLM.from_pretrained(world.base)
    base_id = id(base.model.layers[0].mlp.up_proj.weight)
    host = AdapterHost(base, world.r2)
    torch.testing.assert_close(_logits(host, ids), expected[world.r2], rtol=0, atol=1e-6)
    steps = [(world.r8, "new adapter"),  # rank 8 does not fit in the loaded rank 2
             (world.r8_other, "in place"), (world.r2, "in place"),  # zero-padded to 8, its own scale
             (world.patterned, "in place"), (world.r8, "in place"),  # per-module ranks and alphas
             (rslora, "new adapter"), (world.r8, "new adapter"), (world.r8, "unchanged")]  # fmt: skip
    for folder, how in steps:
        assert host.load(folder) == how
        # the same up to float32 rounding (zero-padded sums add in another order); adapters differ far more
        torch.testing.assert_close(_logits(host, ids), expected[folder], rtol=1e-5, atol=1e-5)
        assert len(host.model.peft_config) == 1  # the old adapter is gone, not stacked
    assert id(host.model.base_model.model.model.layers[0].mlp.up_proj.weight) == base_id  # never reloaded


def build_rslora(world, out):
    from helpers.lm_eval_world import _adapter

    return _adapter(world.base, out, seed=4, use_rslora=True)


def test_a_folder_without_safetensors_is_refused(world, tmp_path):
    import shutil

    host = AdapterHost(__import__("transformers").AutoModelForCausalLM.from_pretrained(world.base), world.r8)
    bad = tmp_path / "bad"
    shutil.copytree(world.r8, bad)
    (bad / "adapter_model.safetensors").unlink()
    with pytest.raises(RankbenchError, match="no adapter_model.safetensors in this adapter folder"):
        host.load(bad)
