"""Ctrl-C that a library swallows (a bare ``except:``) still stops the command at the next safe point."""

from __future__ import annotations

import os
import signal

import pytest

from rankbench import interrupt
from rankbench.bench.progress import Progress
from rankbench.bench.runstate import RunDir


def _swallowed_ctrl_c() -> None:
    """What a library with a bare except does to a Ctrl-C that lands inside it."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # the handler runs at the next bytecode boundary
            pass
    except:  # noqa: E722 - the point of the test
        pass


def test_a_swallowed_ctrl_c_is_raised_again_by_check(ctrl_c_delivered):
    with interrupt.catching():
        _swallowed_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler again
    interrupt.check()  # the request ended with the command: nothing to raise


def test_without_ctrl_c_check_does_nothing(ctrl_c_delivered):
    with interrupt.catching():
        interrupt.check()
        Progress(quiet=True)("train", 1, 10, {})


def test_the_next_progress_tick_and_the_next_stage_stop_after_a_swallowed_ctrl_c(tmp_path, ctrl_c_delivered):
    run = RunDir(tmp_path / "run")
    with interrupt.catching():
        _swallowed_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            Progress(quiet=True)("train", 1, 10, {})
        with pytest.raises(KeyboardInterrupt), run.stage("audit") as st:
            st.record = {"never": "written"}
    assert not run.is_done("audit")


def test_an_ignored_sigint_stays_ignored():
    """A run started with SIGINT ignored (``nohup``-style) keeps it so: rankbench installs nothing."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupt.catching():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            interrupt.check()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
