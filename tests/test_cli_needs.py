"""A command whose extra is not installed says so before it touches anything: exit 2, the install
command, no traceback, no output folder. Run in a subprocess whose importer refuses the extra's modules,
as on `pip install .` (numpy only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKER = """
import importlib.util
import sys

BLOCKED = set({blocked!r})


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
_find_spec = importlib.util.find_spec


def find_spec(name, package=None):  # as for a module that is not installed: None, not an error
    return None if name.split(".")[0] in BLOCKED else _find_spec(name, package)


importlib.util.find_spec = find_spec
"""


def cli_without(tmp_path: Path, blocked: list[str], *args: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=blocked))
    src = Path(__file__).resolve().parents[1] / "src"
    path = os.pathsep.join([str(site), str(src), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "RANKBENCH_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "rankbench", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_the_blocker_works(tmp_path):
    cli_without(tmp_path, ["torch"], "--version")  # writes the sitecustomize
    proc = subprocess.run(
        [sys.executable, "-c", "import torch"],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "No module named 'torch'" in proc.stderr


@pytest.mark.parametrize(
    "extra_args", [[], ["--smoke"], ["--seeds", "1,2"]], ids=["default", "smoke", "campaign"]
)
def test_run_without_torch_names_the_bench_extra_and_writes_nothing(tmp_path, extra_args):
    out = tmp_path / "X"
    proc = cli_without(tmp_path, ["torch"], "run", "--output", str(out), *extra_args)
    assert proc.returncode == 2, proc.stderr
    assert "error: rankbench run needs torch, which is not installed" in proc.stderr
    assert "hint: pip install 'rankbench[bench]'" in proc.stderr
    assert "Traceback" not in proc.stderr and "preparing data" not in proc.stderr
    assert not out.exists()


def test_every_missing_module_of_the_extra_is_named(tmp_path):
    proc = cli_without(tmp_path, ["torch", "peft", "yaml"], "run", "--output", str(tmp_path / "X"))
    assert proc.returncode == 2
    assert "needs torch, peft, yaml, which are not installed" in proc.stderr


def test_executor_ray_without_ray_names_the_ray_extra(tmp_path):
    out = tmp_path / "X"
    proc = cli_without(tmp_path, ["ray"], "run", "--seeds", "1,2", "--executor", "ray", "--output", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "--executor ray needs ray" in proc.stderr and "pip install 'rankbench[ray]'" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_the_audit_needs_no_extra(tmp_path):
    """`pip install .` is enough for the audit: it runs with every optional module refused."""
    import numpy as np

    from helpers.peft_fixtures import random_pairs, write_adapter

    folder = write_adapter(tmp_path / "a", random_pairs(np.random.default_rng(0)))
    proc = cli_without(
        tmp_path, ["torch", "transformers", "peft", "yaml", "matplotlib"], "audit", str(folder)
    )
    assert proc.returncode == 0, proc.stderr
    proc = cli_without(tmp_path, ["matplotlib"], "audit", str(folder), "--html", str(tmp_path / "a.html"))
    assert proc.returncode == 2 and "rankbench[report]" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "a.html").exists()
