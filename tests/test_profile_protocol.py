"""Every task profile implements the TaskProfile Protocol the bench calls, with its exact signatures."""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("torch")

from rankbench.bench.profiles.base import TaskProfile  # noqa: E402
from rankbench.bench.profiles.causal_lm import CausalLMExactMatchProfile  # noqa: E402
from rankbench.bench.profiles.seqcls import SeqClsProfile  # noqa: E402

METHODS = sorted(n for n, v in vars(TaskProfile).items() if inspect.isfunction(v) and not n.startswith("_"))


def test_the_protocol_lists_what_the_bench_calls():
    assert METHODS == [
        "default_target_modules",
        "evaluate",
        "meta_model",
        "model_provenance",
        "prepare",
        "train",
    ]
    assert set(TaskProfile.__annotations__) == {"name", "primary_metric_key", "model_type", "peft_task_type"}


def _params(fn) -> list[tuple[str, inspect._ParameterKind]]:
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("profile", [SeqClsProfile, CausalLMExactMatchProfile], ids=lambda c: c.__name__)
def test_a_profile_has_every_method_with_the_protocols_parameters(profile):
    assert isinstance(profile.name, str) and profile.primary_metric_key.startswith("eval_")
    assert profile.model_type in ("seq_cls", "causal_lm") and isinstance(profile.peft_task_type, str)
    for method in METHODS:
        theirs = inspect.signature(getattr(profile, method)).parameters
        ours = _params(getattr(TaskProfile, method))
        assert _params(getattr(profile, method))[: len(ours)] == ours, method
        extra = list(theirs.values())[len(ours) :]
        assert all(p.default is not inspect.Parameter.empty for p in extra), method  # optional only
