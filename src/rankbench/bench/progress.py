"""Progress on stderr: the stage, a step bar with ETA, and the running loss. Quiet with --quiet."""

from __future__ import annotations

import os
import sys
import time

from rankbench import interrupt


def _fmt_seconds(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    def __init__(self, *, quiet: bool = False, stream=None, width: int = 24) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty() and not os.environ.get("CI")
        self._stage = None
        self._t0 = 0.0
        self._last_print = 0.0

    def stage(self, message: str) -> None:
        if not self.quiet:
            self._end_line()
            print(f"[rankbench] {message}", file=self.stream, flush=True)

    def __call__(self, stage: str, done: int, total: int, info: dict | None = None) -> None:
        """The ``progress(stage, done, total, info)`` callback that profiles call."""
        interrupt.check()  # a Ctrl-C that a library swallowed stops the work here
        if self.quiet:
            return
        now = time.perf_counter()
        if stage != self._stage:
            self._end_line()
            self._stage, self._t0, self._last_print = stage, now, 0.0
        finished = done >= total
        if not finished and now - self._last_print < (0.2 if self.tty else 15.0):
            return
        self._last_print = now
        elapsed = now - self._t0
        eta = elapsed / done * (total - done) if done else 0.0
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        extra = ""
        if info and info.get("loss") is not None:
            extra = f" loss {info['loss']:.4f}"
        line = f"  {stage} [{bar}] {done}/{total} {_fmt_seconds(elapsed)}<{_fmt_seconds(eta)}{extra}"
        if self.tty:
            print("\r" + line, end="\n" if finished else "", file=self.stream, flush=True)
            if finished:
                self._stage = None
        else:
            print(line, file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self.tty and self._stage is not None:
            print(file=self.stream, flush=True)
        self._stage = None
