"""Answer extraction and normalisation: real GSM8K answers and the outputs models actually write."""

from __future__ import annotations

import pytest

from helpers.gsm8k import FULL_DIR, FULL_SIZES, has_full_copy, read_split, row
from rankbench.bench.profiles.answers import (
    extract_answer,
    gold_answer,
    normalize_number,
    normalize_text,
    score_answer,
)

# (file, 0-based row, gold): thousands separators, big numbers, negative answers, a plain one
REAL_ROWS = [
    ("test", 0, "18"),
    ("test", 146, "2125"),  # #### 2,125
    ("test", 611, "1450000"),  # #### 1,450,000
    ("test", 489, "-10"),
    ("test", 1113, "-3"),
    ("train", 345, "1080"),  # #### 1,080
    ("train", 644, "109200000"),  # #### 109,200,000
    ("train", 5715, "-7"),
    ("train", 5844, "-47"),
    ("train", 6189, "-12"),
]


def test_real_gsm8k_gold_answers():
    """The tricky rows, from the full copy or the shipped excerpt (which keeps their row numbers)."""
    checked = 0
    for split, index, gold in REAL_ROWS:
        answer = row(split, index)["answer"]
        assert "####" in answer
        assert gold_answer(answer) == gold, (split, index, answer[-40:])
        assert extract_answer(answer) == gold
        checked += 1
    assert checked == 10


@pytest.mark.skipif(not has_full_copy(), reason=f"the full GSM8K copy is not at {FULL_DIR}")
def test_every_gsm8k_gold_is_a_canonical_number():
    """All 8,792 answers: the gold after #### normalises to digits, with an optional minus sign."""
    n = 0
    for split, size in FULL_SIZES.items():
        rows = read_split(split)
        assert len(rows) == size
        for r in rows:
            gold = gold_answer(r["answer"])
            assert gold.lstrip("-").isdigit(), r["answer"][-40:]
            n += 1
    assert n == 7473 + 1319


def test_every_excerpt_gold_is_a_canonical_number():
    rows = read_split("train") + read_split("test")
    assert len(rows) >= 64
    assert all(gold_answer(r["answer"]).lstrip("-").isdigit() for r in rows)


def test_last_number_fallback_on_real_reasoning_without_the_marker():
    """Drop the '#### N' line: the last number of the real reasoning is still the answer here."""
    for split, index, gold in [("test", 0, "18"), ("test", 1, "3"), ("train", 345, "1080")]:
        reasoning = row(split, index)["answer"].rsplit("####", 1)[0]
        assert "####" not in reasoning
        assert extract_answer(reasoning) == gold, reasoning[-80:]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is 42.", "42"),  # trailing period
        ("She makes 9 * 2 = $18 every day at the market.", "18"),  # several numbers, last wins
        ("It costs $1,080.", "1080"),  # $ and thousands separator
        ("Total: $ 2,500.50", "2500.5"),  # space after $, trailing decimal zero
        ("He paid 3.00 dollars", "3"),  # trailing .00
        ("The temperature dropped to -7 degrees", "-7"),  # negative
        ("She lost -$12 on the deal", "-12"),  # negative dollars
        ("It changed by \u221212", "-12"),  # Unicode minus
        ("16 - 3 - 4 = 9 eggs", "9"),  # subtraction is not a negative 4
        ("10 - 3", "3"),  # "- 3" with a space is subtraction
        ("<<16-3-4=9>>9 duck eggs a day\n#### 9", "9"),
        ("Step 1: 5 + 5 = 10\n#### 1,234\nThen 99 more words", "1234"),  # #### beats later numbers
        ("#### $70,000.", "70000"),
        ("so 2 + 3 = 5 ####", "5"),  # #### cut off before its number: last number before it
        ("0.5 of 10 is 5.0", "5"),
        ("price 0.50", "0.5"),
        ("-0", "0"),
        ("no digits at all", None),
        ("", None),
    ],
)
def test_extract_answer_from_model_outputs(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.50", "2.5"), ("$1,000,000", "1000000"), ("18.", "18"), ("-3.0", "-3"), ("007", "7"), ("x", None)],
)
def test_normalize_number(text, expected):
    assert normalize_number(text) == expected


def test_score_answer_numeric_and_text_gold():
    assert score_answer("so she has $18.00 left\n#### 18", "18") == ("18", True)
    assert score_answer("the answer is 17", "18") == ("17", False)
    assert score_answer("I don't know", "18") == (None, False)
    gold = gold_answer("Paris")
    assert gold == "paris"
    assert score_answer("  Paris. ", gold) == ("paris", True)
    assert normalize_text("New   York.") == "new york"
