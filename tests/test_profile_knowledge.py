"""What a task profile knows about itself: the seed format's model type and PEFT's task type are
profile attributes, and one LoraSpec.to_peft_config builds every fresh adapter's config."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the profiles and PEFT need the bench extra")
pytest.importorskip("peft", reason="the profiles and PEFT need the bench extra")

from peft import TaskType, get_peft_model  # noqa: E402

from helpers.peft_fixtures import tiny_bert  # noqa: E402
from rankbench import names  # noqa: E402
from rankbench.bench.profiles import get_profile  # noqa: E402
from rankbench.bench.profiles.base import LoraSpec  # noqa: E402

EXPECTED = {  # profile -> (model_type in the seed format, PEFT task type)
    "seqcls": ("seq_cls", TaskType.SEQ_CLS),
    "causal_lm_exact_match": ("causal_lm", TaskType.CAUSAL_LM),
}


def test_every_registered_profile_says_its_model_and_task_type():
    assert set(EXPECTED) == set(names.PROFILES)
    for name, (model_type, task_type) in EXPECTED.items():
        profile = get_profile(name)
        assert (profile.model_type, profile.peft_task_type) == (model_type, task_type), name


def test_to_peft_config_carries_every_field_and_peft_builds_those_ranks():
    spec = LoraSpec(
        r=4,
        alpha=8.0,
        target_modules=["query", "value"],
        dropout=0.1,
        use_rslora=True,
        rank_pattern={"layer.1.attention.self.query": 2},
        alpha_pattern={"layer.1.attention.self.query": 3.0},
    )
    config = spec.to_peft_config("SEQ_CLS", modules_to_save=["classifier"])
    assert config.task_type == TaskType.SEQ_CLS
    assert (config.r, config.lora_alpha, config.lora_dropout, config.use_rslora) == (4, 8.0, 0.1, True)
    assert set(config.target_modules) == {"query", "value"}
    assert config.rank_pattern == spec.rank_pattern and config.alpha_pattern == spec.alpha_pattern
    assert config.modules_to_save == ["classifier"]
    assert spec.to_peft_config("CAUSAL_LM").modules_to_save is None

    model = get_peft_model(tiny_bert(classifier=True), config)
    ranks = {n: m.r["default"] for n, m in model.named_modules() if hasattr(m, "lora_A") and "default" in m.r}
    assert len(ranks) == 4  # query and value in each of the 2 layers
    assert {n.split("encoder.")[1]: r for n, r in ranks.items()} == {
        "layer.0.attention.self.query": 4,
        "layer.0.attention.self.value": 4,
        "layer.1.attention.self.query": 2,
        "layer.1.attention.self.value": 4,
    }
