"""Compress every PEFT convention in tests/helpers/peft_fixtures.py (the audit's fixtures) and load it back.

Covers what the hand-built round trips don't: nn.Conv2d LoRA, a regex key in the source alpha_pattern,
an embedding LoRA next to a modules_to_save head, and all-zero (untrained) adapters.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from peft import PeftModel  # noqa: E402
from peft.tuners.lora import LoraLayer  # noqa: E402

from helpers import peft_fixtures  # noqa: E402
from rankbench.auditor import audit  # noqa: E402
from rankbench.suggest.compress import compress_adapter  # noqa: E402
from rankbench.suggest.plans import make_plan  # noqa: E402


def tiny_cnn():
    torch.manual_seed(0)  # as in peft_fixtures.build_conv2d
    model = torch.nn.Sequential()
    model.add_module("conv", torch.nn.Conv2d(3, 8, kernel_size=3))
    model.add_module("head", torch.nn.Linear(8, 4))
    return model


BASES = {
    "bert_query_value": peft_fixtures.tiny_bert,
    "gpt2_conv1d_patterns": peft_fixtures.tiny_gpt2,
    "llama_rslora": peft_fixtures.tiny_llama,
    "bert_embedding": lambda: peft_fixtures.tiny_bert(classifier=True),
    "bert_default_init": peft_fixtures.tiny_bert,
    "bert_embedding_default_init": peft_fixtures.tiny_bert,
    "conv2d": tiny_cnn,
}


def test_every_fixture_is_covered():
    assert set(BASES) == set(peft_fixtures.BUILDERS) - {"bert_dora"}  # DoRA is refused (tested elsewhere)


@pytest.mark.parametrize("name", sorted(BASES))
def test_fixture_compresses_to_the_rank_k_truncation(peft_adapters, tmp_path, name):
    built = peft_adapters[name]
    plan = make_plan("budget:0.5", audit(built.folder))
    assert plan.lora_params <= plan.source_lora_params // 2
    compress_adapter(built.folder, plan, tmp_path / "out")
    model = PeftModel.from_pretrained(BASES[name](), tmp_path / "out").to(torch.float64)
    layers = {
        n.removeprefix("base_model.model."): m for n, m in model.named_modules() if isinstance(m, LoraLayer)
    }
    assert set(layers) == set(built.deltas) == set(plan.ranks)
    for module, layer in layers.items():
        k = plan.ranks[module]
        assert layer.r["default"] == k
        W = built.deltas[module].reshape(built.deltas[module].shape[0], -1)  # conv: (out, in·kh·kw)
        with torch.no_grad():
            W_new = layer.get_delta_weight("default").numpy().reshape(W.shape)
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        W_k = (U[:, :k] * s[:k]) @ Vt[:k]
        assert np.linalg.norm(W_new - W_k) <= 1e-5 * max(np.linalg.norm(W), 1e-30), module  # float32 storage
