"""Is a name the user gave a local path or a hub id? And what to say when it is neither.

``my-run/adapter`` is written like a hub id (``owner/name``), but when ``my-run`` is a folder here the
user means a path that does not exist yet, and "the hub cannot be reached" would send them the wrong
way. A name counts as a hub id only when it has the form ``owner/name``, does not start with ``.``,
``/`` or ``~``, and its first part is not a local folder. Messages about the hub mention
``HF_HUB_OFFLINE`` only when it is set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rankbench.errors import RankbenchError
from rankbench.run_layout import LOCK

_HUB_FORM = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
RUN_MARKER = LOCK  # what makes a folder a rankbench run


def looks_like_hub_id(name: str) -> bool:
    """``owner/name`` that cannot be a local path: see the module doc."""
    text = str(name)
    if not _HUB_FORM.match(text) or ".." in text:
        return False
    return not Path(text.split("/", 1)[0]).is_dir()


def offline_note() -> str:
    """What to say about HF_HUB_OFFLINE: only that it is set, when it is."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    if value.strip().lower() in ("", "0", "false", "no", "off"):
        return ""
    return f"; HF_HUB_OFFLINE={value} is set, so the hub is not asked (unset it to download)"


def run_adapter_suggestion(path: str | Path) -> str | None:
    """The hint "did you mean RUN/probe/adapter?" when ``path`` is a run folder (or inside one)."""
    p = Path(path).expanduser()
    for run in (p, p.parent):
        if (run / RUN_MARKER).is_file():
            probe = run / "probe" / "adapter"
            return f"did you mean {probe}? (a run folder holds its probe adapter there)"
    return None


def no_such_folder(path: str | Path, what: str, hint: str) -> RankbenchError:
    """The error for a local path that does not exist: "no such folder" first, the hub not mentioned."""
    p = Path(path).expanduser()
    parent = p.parent if str(p.parent) not in ("", ".") else None
    detail = f"no such folder ({what})"
    if parent is not None and not parent.exists():
        detail += f"; its parent {parent} does not exist either"
    return RankbenchError(detail, path=p, hint=run_adapter_suggestion(p) or hint)
