"""The run folder: one sub-folder per stage, a marker per finished stage, and a config lock.

A stage is finished exactly when its ``stage.json`` marker exists; the marker is written last and
atomically. A stage folder without a marker is the leftover of a killed run: it is wiped and the stage
runs again. Because every stage is deterministic from the seed, a resumed run ends with the same
results as an uninterrupted one.

``run_config.json`` locks the folder to one resolved config: a run with another config is refused, and
the refusal names the keys that differ. The lock binds only once a stage has finished: a run that failed
before that (a dataset that cannot be read, a missing package) left nothing to protect, so a fixed config
may take the folder over.

A stage being run holds an exclusive lock (``flock`` on ``.locks/<stage>``) until its marker is
written, so a second process started on the same folder is refused instead of wiping a stage that
is still running. The kernel drops the lock when the process dies, SIGKILL included, so a resume
never finds a stale one. Different stages of one run (Ray's variant jobs) lock separately.

A stage body runs inside :meth:`RunDir.stage`, which does all of the above::

    with run.stage("audit") as st:
        if st.done:              # finished by an earlier run: st.record is its marker
            return st.record
        ...                      # write files into st.dir
        st.record = {...}        # the marker's content; "stage" and "seconds" are added
    return st.record
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from rankbench import interrupt
from rankbench.errors import RankbenchError
from rankbench.io import atomic_write_json, ensure_dir, friendly_os_errors, read_json
from rankbench.run_layout import LOCK, MARKER, STAGE_LOCKS

try:
    import fcntl
except ImportError:  # not on POSIX: stages run unlocked
    fcntl = None


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def config_diff(old: dict, new: dict) -> list[str]:
    """Dotted keys whose values differ between two resolved configs, sorted."""
    a, b = flatten(old), flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))


class RunDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._held: dict[str, int] = {}  # stage name -> fd of its lock file
        self.finished_here: list[str] = []  # stages this process ran to their marker
        self.watch = None  # told when a stage starts and finishes (a progress.StageClock), if set

    # -- the config lock --------------------------------------------------------------------------
    def claim(self, resolved: dict, config_hash: str, meta: dict | None = None) -> bool:
        """Lock the folder to this config. Returns True when resuming an earlier run of it."""
        if self.root.exists() and not self.root.is_dir():
            raise RankbenchError("the output path exists and is not a folder", path=self.root)
        ensure_dir(self.root)
        lock = self.root / LOCK
        if lock.exists():
            prior = read_json(lock)
            if prior.get("config_hash") != config_hash and not self._finished_any():
                self._check_idle()  # a first run that failed before any stage finished: relock
                atomic_write_json(lock, {"config_hash": config_hash, "config": resolved, **(meta or {})})
                return False
            if prior.get("config_hash") != config_hash:
                keys = config_diff(prior.get("config", {}), resolved)
                shown = ", ".join(keys[:12]) + (" ..." if len(keys) > 12 else "")
                raise RankbenchError(
                    f"this folder holds a run of another config (differs in: {shown or 'unknown keys'})",
                    path=self.root,
                    hint="use another --output folder, or the same config to resume",
                )
            return True
        if any(p.name not in (LOCK, STAGE_LOCKS) for p in self.root.iterdir()):
            raise RankbenchError(
                "the output folder is not empty and holds no rankbench run",
                path=self.root,
                hint="choose an empty or new --output folder",
            )
        atomic_write_json(lock, {"config_hash": config_hash, "config": resolved, **(meta or {})})
        return False

    def _finished_any(self) -> bool:
        """Whether any stage of the run in this folder has its marker (stages may be nested)."""
        return any(self.root.rglob(MARKER))

    def _check_idle(self) -> None:
        """Refuse when another process holds a stage of this folder (it may be about to finish one)."""
        locks = self.root / STAGE_LOCKS
        if fcntl is None or not locks.is_dir():
            return
        for path in sorted(locks.iterdir()):
            with friendly_os_errors(path):
                fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RankbenchError(
                    "another rankbench process is running in this folder",
                    path=self.root,
                    hint="wait for it to finish (or stop it), or use another --output folder",
                ) from None
            finally:
                os.close(fd)

    def locked_config(self) -> dict:
        return read_json(self.root / LOCK)

    # -- stages -----------------------------------------------------------------------------------
    def stage_dir(self, name: str) -> Path:
        return self.root / name

    def is_done(self, name: str) -> bool:
        return (self.stage_dir(name) / MARKER).is_file()

    def record(self, name: str) -> dict:
        return read_json(self.stage_dir(name) / MARKER)

    def stage(self, name: str) -> StageRun:
        """The context of one stage: skipped when done, marked done only when its body succeeds."""
        return StageRun(self, name)

    def begin(self, name: str) -> Path:
        """A clean folder for a stage that has not finished (wipes a killed run's leftovers)."""
        self._lock_stage(name)
        d = self.stage_dir(name)
        with friendly_os_errors(d):
            if d.exists():
                shutil.rmtree(d)
        return ensure_dir(d)

    def finish(self, name: str, record: dict, started: float) -> dict:
        record = {**record, "stage": name, "seconds": round(time.perf_counter() - started, 3)}
        atomic_write_json(self.stage_dir(name) / MARKER, record)
        self.finished_here.append(name)
        if self.watch is not None:
            self.watch.finished(name, record)
        self._unlock_stage(name)
        return record

    def _lock_stage(self, name: str) -> None:
        if fcntl is None or name in self._held:
            return
        folder = ensure_dir(self.root / STAGE_LOCKS)
        path = folder / name.replace("/", "__")
        with friendly_os_errors(path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # umask applies
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RankbenchError(
                f"another rankbench process is running the stage {name!r} in this folder",
                path=self.root,
                hint="wait for it to finish (or stop it), then run the same command again to resume",
            ) from None
        self._held[name] = fd

    def _unlock_stage(self, name: str) -> None:
        fd = self._held.pop(name, None)
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


class StageRun:
    """``with run.stage(name) as st``: see the module doc.

    On entry a finished stage sets ``done`` and ``record`` (its marker) and nothing else happens; an
    unfinished one gets a clean locked folder ``dir`` and a clock. On a clean exit the body's
    ``record`` is written as the marker, with ``stage`` and ``seconds`` added (``record`` then holds
    what was written). An exception (Ctrl-C included) writes no marker and releases the lock, so the
    stage runs again on resume.
    """

    def __init__(self, run: RunDir, name: str) -> None:
        self.run, self.name = run, name
        self.done = False
        self.record: dict | None = None
        self.dir = run.stage_dir(name)
        self._t0 = 0.0

    def elapsed(self) -> float:
        """Seconds since the stage began."""
        return time.perf_counter() - self._t0

    def __enter__(self) -> StageRun:
        interrupt.check()  # a Ctrl-C that a library swallowed stops the run before the next stage
        if self.run.is_done(self.name):
            self.done, self.record = True, self.run.record(self.name)
            return self
        self._t0 = time.perf_counter()
        self.dir = self.run.begin(self.name)
        if self.run.watch is not None:
            self.run.watch.started(self.name)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.done:
            return
        if kind is not None:
            self.run._unlock_stage(self.name)
            return
        if self.record is None:
            self.run._unlock_stage(self.name)
            raise RuntimeError(f"stage {self.name!r} ended without setting its record")
        self.record = self.run.finish(self.name, self.record, self._t0)
