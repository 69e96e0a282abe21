"""Ctrl-C that a library cannot swallow.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread happens to be. If that is inside
third-party code with a bare ``except:`` (or ``except BaseException``) that does not re-raise, the
interrupt is lost and a long bench runs on to its end. While a command runs, :func:`catching` installs
a handler that also records the request; :func:`check` raises it again at the next safe point (the
start of a stage, a progress tick of training or evaluation). Nothing else changes: the first
``KeyboardInterrupt`` is still raised where it lands, and the command still exits 130 with its
finished stages kept.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_requested = threading.Event()


def _handler(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def catching() -> Iterator[None]:
    """Record Ctrl-C for :func:`check` inside the block (main thread, default handler only)."""
    _requested.clear()
    install = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if install:
        signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _requested.clear()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C came and something swallowed it."""
    if _requested.is_set():
        raise KeyboardInterrupt
