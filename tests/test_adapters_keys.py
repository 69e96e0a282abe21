"""Pure rules: state-dict keys → module path / adapter / role, PEFT's r/alpha patterns, the scale."""

import math

import pytest

from rankbench.adapters.config import config_problems, lora_scale, resolve_r_alpha
from rankbench.adapters.keys import natural_key, parse_key


@pytest.mark.parametrize(
    ("key", "module", "adapter", "role", "embedding"),
    [
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj",
         "default", "A", False),
        ("base_model.model.x.lora_B.weight", "x", "default", "B", False),
        ("base_model.model.x.lora_A.second.weight", "x", "second", "A", False),
        ("base_model.model.emb.lora_embedding_A", "emb", "default", "A", True),
        ("base_model.model.emb.lora_embedding_B.other", "emb", "other", "B", True),
        ("base_model.model.x.lora_magnitude_vector", "x", "default", "magnitude", False),
        ("base_model.model.x.lora_magnitude_vector.default.weight", "x", "default", "magnitude", False),
        ("base_model.model.x.lora_B.bias", "x", "default", None, False),  # lora_bias=True: not a factor
        ("base_model.model.classifier.weight", "classifier.weight", "default", None, False),
        ("model.layers.0.q_proj.lora_A.weight", "model.layers.0.q_proj", "default", "A", False),  # no prefix
    ],
)  # fmt: skip
def test_parse_key(key, module, adapter, role, embedding):
    parsed = parse_key(key)
    assert (parsed.module, parsed.adapter, parsed.role, parsed.embedding) == (
        module,
        adapter,
        role,
        embedding,
    )


def test_natural_order():
    names = ["layers.10.q", "layers.2.q", "layers.1.v", "layers.1.q"]
    assert sorted(names, key=natural_key) == ["layers.1.q", "layers.1.v", "layers.2.q", "layers.10.q"]


def test_resolve_r_alpha_defaults_and_first_match():
    assert resolve_r_alpha({}, "a.q_proj") == (8, 8.0)  # PEFT's LoraConfig defaults
    config = {"r": 16, "lora_alpha": 32, "rank_pattern": {"q_proj": 4, "layers.0.q_proj": 2}}
    assert resolve_r_alpha(config, "model.layers.0.q_proj") == (4, 32.0)  # first matching key wins
    assert resolve_r_alpha(config, "model.layers.0.k_proj") == (16, 32.0)
    assert resolve_r_alpha(config, "model.layers.0.q_proj_extra") == (
        16,
        32.0,
    )  # pattern is anchored at the end
    assert resolve_r_alpha({"rank_pattern": {"a+b": 3}}, "a+b") == (3, 8.0)  # regex misses, exact key hits


def test_lora_scale():
    assert lora_scale(16, 8, False) == 2.0
    assert lora_scale(16, 4, True) == 8.0
    assert lora_scale(8, 7, True) == pytest.approx(8 / math.sqrt(7))
    with pytest.raises(ValueError, match="r must be positive"):
        lora_scale(8, 0, False)


def test_config_problems_are_reported_together():
    problems = config_problems(
        {"peft_type": "IA3", "r": 0, "lora_alpha": "x", "use_rslora": "yes", "rank_pattern": {"q": -1, "[": 2},
         "alpha_pattern": []}
    )  # fmt: skip
    assert problems == [
        "peft_type is 'IA3'; rankbench audits LoRA adapters only (peft_type 'LORA')",
        "'r' must be a positive integer, got 0",
        "'lora_alpha' must be a number, got 'x'",
        "'use_rslora' must be true or false, got 'yes'",
        "rank_pattern['q'] must be a positive integer, got -1",
        "rank_pattern key '[' is not a valid regular expression (unterminated character set at position 0)",
        "'alpha_pattern' must be an object of pattern -> value, got list",
    ]
    assert config_problems([1]) == ["must be a JSON object, got list"]
    assert config_problems({"peft_type": "LORA", "r": 8, "lora_alpha": 16, "rank_pattern": {}}) == []
