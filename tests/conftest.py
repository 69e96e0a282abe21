"""Shared fixtures. Real PEFT adapters are built once per session (torch is imported only if a test
asks for them); builders live in tests/helpers/peft_fixtures.py for reuse in other test files."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

# Before numpy loads (helpers import it): the tests' matrices are tiny, and a multi-threaded OpenBLAS
# on a busy 2-core machine made a 200x16 SVD take 2 s. torch's own pools (OMP/MKL) are left alone.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).parent))  # `from helpers.peft_fixtures import ...` from any test

from helpers import peft_fixtures  # noqa: E402


@pytest.fixture(scope="session")
def peft_adapters(tmp_path_factory) -> dict[str, peft_fixtures.BuiltAdapter]:
    """Every convention in peft_fixtures.BUILDERS, saved by PEFT into a session temp folder."""
    pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("peft_adapters")
    return {name: build(root / name) for name, build in peft_fixtures.BUILDERS.items()}


@pytest.fixture(scope="session")
def low_precision_adapters(tmp_path_factory) -> dict[str, peft_fixtures.BuiltAdapter]:
    """The BERT query/value adapter saved in bfloat16 and in float16."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("peft_low_precision")
    return {
        name: peft_fixtures.build_bert_query_value(root / name, dtype=dtype)
        for name, dtype in (("bfloat16", torch.bfloat16), ("float16", torch.float16))
    }


@pytest.fixture
def ctrl_c_delivered():
    """Ctrl-C as a terminal delivers it, even when the test run inherited SIGINT ignored.

    A shell that starts a job in the background without job control (``nohup ... &`` in a script) hands
    it SIGINT ignored, and Python then keeps it ignored: a test that sends SIGINT would prove nothing.
    Inside the test this process has Python's own handler; ``restore_sigint`` (a ``preexec_fn``) gives a
    child the default disposition, so that its Python installs the handler too.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield restore_sigint
    finally:
        signal.signal(signal.SIGINT, previous)


def restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
