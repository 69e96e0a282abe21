"""Atomic file writes with clear errors for full disks and read-only folders.

Every artifact goes through here: write to a temporary file in the same folder, flush and fsync, then
rename over the target. A reader (or a resumed run) sees either the old file or the new one, never half.

Modes: a temporary file or folder is private (0600 / 0700), and so is what some libraries save (PEFT's
``save_pretrained`` leaves its weights 0600). :func:`give_normal_modes` sets what a plain ``open()`` or
``mkdir`` would have given under the user's umask (0644 / 0755 under umask 022), so a colleague, a web
server or a serving process can read what we wrote. Every write here calls it, and so does every place
that renames a library's output into a run folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rankbench.errors import RankbenchError


@contextlib.contextmanager
def friendly_os_errors(path: str | Path) -> Iterator[None]:
    """Turn the OS errors a user can fix (disk full, read-only, no permission) into RankbenchErrors."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise RankbenchError(
                "no space left on the device while writing",
                path=path,
                hint="free some space or choose another --output folder; finished stages are kept",
            ) from None
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise RankbenchError(
                "cannot write here (read-only file system or no permission)",
                path=path,
                hint="choose a writable --output folder",
            ) from None
        raise


def current_umask() -> int:
    """The process umask, read without changing it where the OS says it (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def normal_modes() -> tuple[int, int]:
    """(file mode, folder mode) a normal write gets under the current umask: 0o644, 0o755 under 022."""
    mask = current_umask()
    return 0o666 & ~mask, 0o777 & ~mask


def give_normal_modes(path: str | Path) -> None:
    """Give ``path`` (a file, or a folder and everything in it) the modes a normal write would have.

    Links are left alone (their targets are not ours to change).
    """
    file_mode, dir_mode = normal_modes()
    root = Path(path)
    with friendly_os_errors(root):
        if root.is_symlink() or not root.is_dir():
            if not root.is_symlink():
                os.chmod(root, file_mode)
            return
        os.chmod(root, dir_mode)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), dir_mode)
            for name in files:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), file_mode)


def ensure_dir(path: str | Path) -> Path:
    path = Path(path)
    with friendly_os_errors(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    ensure_dir(path.parent)
    with friendly_os_errors(path):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                os.fchmod(fh.fileno(), normal_modes()[0])  # mkstemp made it 0600
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """numpy scalars/arrays and Paths to plain JSON types."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None  # JSON has no NaN/Inf; null means "nothing to say"
    return obj


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    lines = [json.dumps(to_jsonable(r), ensure_ascii=False) for r in rows]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


class _NonFinite(ValueError):
    def __init__(self, token: str):
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str):
    raise _NonFinite(token)


def loads_strict(text: str, object_pairs_hook=None) -> Any:
    """json.loads that refuses NaN, Infinity and -Infinity (Python accepts them; JSON does not).

    They raise json.JSONDecodeError pointing at the first such token, so every caller's "not valid
    JSON (line L, column C)" message covers them, and no NaN ever reaches our own JSON output.
    ``object_pairs_hook`` is json.loads' own (the safetensors header uses it to see repeated keys).
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=object_pairs_hook)
    except _NonFinite as exc:
        pos = max(text.find(exc.token), 0)
        raise json.JSONDecodeError(f"{exc.token} is not a JSON number", text, pos) from None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return loads_strict(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RankbenchError("file not found", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RankbenchError(f"not valid JSON ({exc})", path=path) from None


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(loads_strict(line))
                except json.JSONDecodeError as exc:
                    raise RankbenchError(f"line {i} is not valid JSON ({exc})", path=path) from None
    return rows


def default_cache_root() -> Path:
    """Where rankbench caches tokens and dequantised models: $RANKBENCH_CACHE, else ~/.cache/rankbench.

    An empty RANKBENCH_CACHE counts as unset (a cache in the current folder by accident is worse).
    """
    return Path(os.environ.get("RANKBENCH_CACHE") or Path.home() / ".cache" / "rankbench").expanduser()


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 hex digest of a file, read in 4 MiB blocks; RankbenchError naming it if it cannot be read."""
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            buf = bytearray(chunk)
            view = memoryview(buf)
            while n := fh.readinto(buf):
                h.update(view[:n])
    except OSError as exc:
        raise RankbenchError(f"cannot be read ({exc.strerror})", path=path) from None
    return h.hexdigest()


def append_jsonl_line(path: str | Path, obj: Any) -> None:
    """Append one JSON line with a single ``write`` on an O_APPEND descriptor.

    A reader polling the file while it grows sees whole lines: the line, newline included, goes to the
    kernel in one call, and O_APPEND puts it at the end even when another writer appended meanwhile.
    A process killed inside that call can at most leave one partial last line, which readers skip.
    """
    data = (json.dumps(to_jsonable(obj), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    path = Path(path)
    ensure_dir(path.parent)
    with friendly_os_errors(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # umask applies
        try:
            view = memoryview(data)
            while view:  # a regular file takes it all at once; loop only for a short write
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
