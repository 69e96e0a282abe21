"""The architecture contracts of pyproject.toml's [tool.importlinter] hold: the layers from the command
line down to the pure math, stats and spectral importing only leaf modules, no library package importing
the command line, and no import cycle between packages. ``lint-imports`` (import-linter, the ``test``
extra) checks them; its report is the failure message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    """The ``lint-imports`` next to this interpreter (the venv's), else the one on PATH."""
    here = Path(sys.executable).parent / "lint-imports"
    found = str(here) if here.is_file() else shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is not installed (pip install 'rankbench[test]')")
    return found


def test_the_import_contracts_hold():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"lint-imports exited {done.returncode}:\n{report}"
    assert "Contracts: 5 kept, 0 broken." in report  # every contract in pyproject.toml was checked
