"""The names registry: torch-free, the one home every user of a name reads, and a task profile is one
module plus one line there."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rankbench import names
from rankbench.bench.config import BenchConfig, load_config, validate
from rankbench.bench.profiles import get_profile
from rankbench.cli import main
from rankbench.errors import RankbenchError


def test_the_registry_imports_without_numpy_torch_or_transformers():
    code = (
        "import sys\n"
        "for mod in ('numpy', 'torch', 'transformers', 'peft'):\n"
        "    sys.modules[mod] = None  # any import of them now raises ImportError\n"
        "import rankbench.names as n\n"
        "import rankbench.bench.variants as v\n"
        "print(len(n.PROFILES), len(v.variant_names()), len(n.BENCH_METHODS), len(n.ALPHA_POLICIES))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "5", "3", "2"]


def test_every_variant_row_names_a_known_plan_derivation_and_method():
    from rankbench.bench import variants

    assert variants.control_names() == ("per_layer_shuffled", "random_subspace")
    for row in variants.VARIANT_TABLE.values():
        assert row.base_plan in variants.DEFAULT_PLANS
        assert row.derive == variants.IDENTITY or row.derive in variants.DERIVATIONS
        assert row.compress in names.COMPRESS_METHODS
    assert BenchConfig().compression.variants == list(variants.variant_names())


def test_users_of_a_name_read_the_registry():
    from rankbench.bench import config
    from rankbench.cli import compress as cli_compress
    from rankbench.cli import suggest as cli_suggest
    from rankbench.suggest import plans

    assert config.PROFILES is names.PROFILES and plans.ALPHA_POLICIES is names.ALPHA_POLICIES
    assert (
        cli_suggest.PLAN_MENU is names.PLAN_MENU and cli_compress.COMPRESS_METHODS is names.COMPRESS_METHODS
    )


DUMMY_PROFILE = """
class DummyProfile:
    name = "dummy_task"
"""


@pytest.fixture
def dummy_profile(tmp_path, monkeypatch):
    """A new task profile: one module, plus the one line in rankbench.names.PROFILES."""
    (tmp_path / "dummy_profile_mod.py").write_text(DUMMY_PROFILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(names.PROFILES, "dummy_task", ("dummy_profile_mod:DummyProfile", "a dummy metric"))
    yield "dummy_task"
    sys.modules.pop("dummy_profile_mod", None)


def test_a_registered_profile_is_accepted_everywhere_without_further_edits(dummy_profile, tmp_path, capsys):
    cfg = BenchConfig()
    cfg.task.profile = dummy_profile
    assert validate(cfg) == []
    path = tmp_path / "c.yaml"
    path.write_text(f"task:\n  profile: {dummy_profile}\n")
    assert load_config(path).task.profile == dummy_profile
    assert type(get_profile(dummy_profile)).__name__ == "DummyProfile"
    assert main(["init-config"]) == 0
    doc = capsys.readouterr().out
    assert "dummy_task (a dummy metric)" in doc
    assert (
        "seqcls (classification accuracy), causal_lm_exact_match (generation, exact match) or dummy_task"
        in doc
    )


def test_an_unregistered_profile_is_refused_by_the_config_and_get_profile():
    cfg = BenchConfig()
    cfg.task.profile = "dummy_task"
    assert validate(cfg) == ["task.profile: expected one of seqcls, causal_lm_exact_match, got 'dummy_task'"]
    with pytest.raises(RankbenchError, match="unknown task profile 'dummy_task'"):
        get_profile("dummy_task")


def test_the_plan_menu_is_built_from_the_plan_tables_and_every_entry_builds_a_plan():
    from types import SimpleNamespace

    import numpy as np

    from rankbench.suggest.plans import make_plan

    assert (
        names.PLAN_MENU == "uniform_median, uniform_p90, per_layer, budget:FRACTION, budget_params:N, rank:K"
    )
    s = np.array([3.0, 2.0, 1.0, 0.5])
    mod = SimpleNamespace(name="m", r=4, alpha=8.0, scale=2.0, shape=(16, 16), singular_values=s.tolist())
    audit = SimpleNamespace(modules=[mod], other_params=0)
    example = {"FRACTION": "0.5", "N": "64", "K": "2"}
    specs = [*names.PLAN_NAMES, *(f"{k}:{example[v]}" for k, v in names.PLAN_PARAMS.items())]
    assert len(specs) == 6
    for spec in specs:
        assert make_plan(spec, audit).name == spec


def test_the_builtin_names_are_the_ones_sources_and_the_config_use():
    from rankbench.bench import config_doc

    assert BenchConfig().model.name == names.DEFAULT_MODEL in names.BUILTIN_MODELS
    assert BenchConfig().task.dataset == names.DEFAULT_DATASET in names.BUILTIN_DATASETS
    assert "gsm8k" not in names.BUILTIN_DATASETS
    doc = config_doc.describe("task.dataset")
    assert doc.startswith("builtin (rotten_tomatoes), ") and "gsm8k" in doc.split("builtin (")[1]


def test_init_configs_rule_line_is_built_from_the_rules_table(monkeypatch):
    from rankbench.bench import config_doc
    from rankbench.suggest import rules

    line = config_doc.describe("compression.rule")
    assert all(name in line for name in rules.RULES) and "the default energy:0.9: smallest k" in line
    extra = rules.RuleInfo(lambda s: 1, None, None, "no parameter", "one direction")
    monkeypatch.setitem(rules.RULES, "dummy_rule", extra)
    assert config_doc.describe("compression.rule").split(";")[0].endswith(", effective_rank, dummy_rule")
