"""Answer extraction and normalisation for exact-match scoring. Pure: strings in, strings out.

GSM8K writes the final answer after ``####`` (``... so he made 70,000\\n#### 70000``). A model that
was not trained on that convention, or that stopped early, gets the *last number in its text*
instead. Numbers are compared in a canonical form, so ``$1,080.00``, ``1080.`` and ``1080`` agree:

    >>> normalize_number("$1,080.50")
    '1080.5'
    >>> extract_answer("She makes 9 * 2 = $18 every day.")
    '18'
    >>> extract_answer("#### -7")
    '-7'

A gold answer without any number ("Paris") is compared as text: lower case, collapsed whitespace,
no trailing period.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# A number: optional sign (ASCII or Unicode minus) around an optional dollar sign, digits with or without
# thousands separators, an optional decimal part. The lookbehind keeps "16-3" as 16 and 3 (subtraction,
# not a negative 3) and skips digits glued to letters or to a decimal point ("x2"). A space may follow
# "$" but not a minus sign, so "10 - 3" is 10 and 3.
_NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?P<sign>[-\u2212]?)(?:\$\s?)?(?P<sign2>[-\u2212]?)"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?P<frac>\.\d+)?"
)
_MARKER = "####"


def normalize_number(text: str) -> str | None:
    """The canonical form of one number written in ``text``, or None when there is no number in it.

    Commas, a leading ``$``, a trailing period and trailing zeros of a decimal part go; ``-0`` is ``0``.
    """
    m = _NUMBER.search(text.strip())
    return None if m is None else _canonical(m)


def extract_answer(text: str) -> str | None:
    """The model's numeric answer: the first number after the last ``####``, else the last number."""
    head, marker, tail = text.rpartition(_MARKER)
    if marker:
        m = _NUMBER.search(tail)
        if m is not None:
            return _canonical(m)
        text = head  # "####" with nothing after it (cut by max_new_tokens): use what came before
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007 -- we want the last match
        pass
    return None if last is None else _canonical(last)


def gold_answer(answer: str) -> str:
    """The gold answer of a dataset row: the number after ``####``, else its only/last number, else text."""
    extracted = extract_answer(answer)
    return extracted if extracted is not None else normalize_text(answer)


def score_answer(generated: str, gold: str) -> tuple[str | None, bool]:
    """(what we extracted from ``generated``, whether it equals ``gold``) with ``gold`` from gold_answer."""
    extracted = extract_answer(generated) if _is_canonical_number(gold) else normalize_text(generated)
    return extracted, extracted is not None and extracted == gold


def normalize_text(text: str) -> str:
    return " ".join(text.split()).lower().rstrip(".")


def _canonical(m: re.Match) -> str:
    negative = bool(m.group("sign") or m.group("sign2"))
    digits = m.group("int").replace(",", "") + (m.group("frac") or "")
    try:
        value = Decimal(digits)
    except InvalidOperation:  # pragma: no cover -- the regex only lets digits through
        return digits
    if value == 0:
        return "0"
    # normalize() drops trailing zeros (2.50 -> 2.5); "f" keeps 100 from becoming 1E+2
    out = format(value.normalize(), "f")
    return "-" + out if negative else out


def _is_canonical_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(?:\.\d+)?", text) is not None
