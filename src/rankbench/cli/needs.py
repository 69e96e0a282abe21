"""The optional dependencies a command needs, checked before it reads or writes anything.

``pip install .`` gives the audit alone (numpy). A command that needs an extra says so up front, with
the install command, and exits 2, instead of a traceback half way through with files left behind.
"""

from __future__ import annotations

import importlib.util

from rankbench.errors import RankbenchError

# extra -> the modules it provides that the commands import (import names, not package names)
EXTRAS = {
    "bench": ("torch", "transformers", "peft", "yaml", "safetensors"),
    "report": ("matplotlib",),
    "ray": ("ray",),
    "gguf": ("gguf",),
}


def installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (a finder that refuses it counts as absent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_hint(extra: str) -> str:
    return f"pip install 'rankbench[{extra}]'  (from a clone: pip install -e '.[{extra}]')"


def require(extra: str, what: str) -> None:
    """Raise a RankbenchError naming the missing modules of ``extra`` and the command that installs them."""
    missing = [m for m in EXTRAS[extra] if not installed(m)]
    if missing:
        raise RankbenchError(
            f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed",
            hint=install_hint(extra),
        )
