"""The seed artifact format in ../shared/seed, and its checker: present in this workplace and in CI,
absent in a bare clone, where the checks that need them skip with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SEED = SHARED / "seed"
CHECKER = SHARED / "tools" / "seed_superset.py"
ABSENT = f"the seed format is not beside this checkout ({SEED}); a bare clone has no ../shared"


def has_seed_format() -> bool:
    return SEED.is_dir() and CHECKER.is_file()


def check_superset(example: str, ours: Path, *skip_keys: str) -> None:
    """Run ../shared/tools/seed_superset.py EXAMPLE OURS; skip the calling test when it is absent."""
    if not has_seed_format():
        pytest.skip(ABSENT)
    proc = subprocess.run(
        [sys.executable, str(CHECKER), str(SEED / example), str(ours), *skip_keys],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
