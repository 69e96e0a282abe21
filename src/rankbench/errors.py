"""User-facing errors and warnings.

Every problem a user can cause is raised as a :class:`RankbenchError` that names *where* (a file, a
module, a config key), *what* was wrong and, when we can, a *hint*. The command line prints it as two
lines on stderr and exits with its code; it never shows a traceback for these.

Exit codes (STYLE.md): 0 success, 1 the check found a problem, 2 bad input or usage, 130 interrupted.
"""

from __future__ import annotations

import warnings
from pathlib import Path

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class RankbenchError(Exception):
    """A problem with the user's input or environment, with a message fit to print."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        hint: str | None = None,
        exit_code: int = EXIT_BAD_INPUT,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.hint = hint
        self.exit_code = exit_code
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        text = f"error: {where}{self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class CheckFailed(RankbenchError):
    """The run worked but what it checked failed (a quality gate, a FAIL verdict the user gated on)."""

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, path=path, hint=hint, exit_code=EXIT_CHECK_FAILED)


class RankbenchWarning(UserWarning):
    """Something suspicious that we worked around (e.g. a config r that disagrees with the tensors)."""


def warn(message: str) -> None:
    """Emit a :class:`RankbenchWarning`; the CLI prints these as ``warning: ...`` on stderr."""
    warnings.warn(message, RankbenchWarning, stacklevel=2)


_YAML_HINTS = (
    ("'\\t'", "YAML indents with spaces only: replace the tab with spaces"),
    (
        "mapping values are not allowed",
        "a value holding ': ' must be quoted, or the line is indented too far",
    ),
    ("could not find expected ':'", "each key needs ': ' after it (a space after the colon)"),
    ("expected <block end>", "the keys of one section need the same indentation"),
    ("found undefined alias", "'*' starts a YAML alias: quote the value"),
)


def yaml_error(exc: Exception, path: str | Path, text: str, what: str = "not valid YAML") -> RankbenchError:
    """A RankbenchError for PyYAML's ``exc`` on ``text`` read from ``path``: the line and column, the
    offending line with a caret under the column, and a hint for the usual mistakes."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return RankbenchError(f"{what}: {problem}", path=path)
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    number = f"{mark.line + 1}"
    shown = f"\n  {number} | {line}\n  {' ' * len(number)} | {' ' * mark.column}^"
    hint = next((h for key, h in _YAML_HINTS if key in str(exc)), None)
    return RankbenchError(
        f"{what} at line {mark.line + 1}, column {mark.column + 1}: {problem}{shown}",
        path=path,
        hint=hint or "check the indentation and quoting on this line and the one above it",
    )
