"""summarize() and t_interval() across seeds, with hand-worked numbers."""

from __future__ import annotations

import json

import pytest

from rankbench.errors import RankbenchError
from rankbench.stats import TInterval, summarize, t_interval


def test_summarize_hand_worked():
    # 1, 2, 3, 4: mean 2.5; Σ(x − 2.5)² = 2.25 + 0.25 + 0.25 + 2.25 = 5; std = √(5/3) = 1.2909944
    s = summarize([1, 2, 3, 4])
    assert s == {
        "mean": 2.5,
        "std": pytest.approx(1.2909944, abs=1e-7),
        "values": [1.0, 2.0, 3.0, 4.0],
        "min": 1.0,
        "max": 4.0,
        "n": 4,
    }


def test_summarize_seed_example_values():
    # The seed artifact's probe accuracies 0.2156, 0.2034, 0.2078: mean 0.6268/3 = 0.2089333;
    # deviations 0.0066667, −0.0055333, −0.0011333; Σ squares 7.6347e-5; std = √(7.6347e-5/2) = 0.0061785.
    # (The example file itself prints std 0.0123 beside these values: its numbers are illustrative.)
    s = summarize([0.2156, 0.2034, 0.2078])
    assert s["mean"] == pytest.approx(0.2089333, abs=1e-7)
    assert s["std"] == pytest.approx(0.0061785, abs=1e-7)
    assert s["values"] == [0.2156, 0.2034, 0.2078]


def test_summarize_single_value_has_no_std():
    assert summarize([0.83]) == {
        "mean": 0.83,
        "std": None,
        "values": [0.83],
        "min": 0.83,
        "max": 0.83,
        "n": 1,
    }


def test_summarize_is_json_ready_for_numpy_input():
    import numpy as np

    s = summarize(np.array([0.5, 0.5, 0.5], dtype=np.float32))
    assert s["std"] == 0.0 and all(type(v) is float for v in s["values"])
    json.dumps(s)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], r"values must be a non-empty 1-D sequence of numbers, got shape \(0,\)"),
        ([[1, 2]], r"got shape \(1, 2\)"),
        ([1.0, float("nan")], r"values contains NaN or infinite values"),
    ],
)
def test_summarize_refuses_bad_values(values, message):
    with pytest.raises(RankbenchError, match=message):
        summarize(values)


def test_t_interval_hand_worked():
    # 1, 2, 3, 4: s = 1.2909944, se = s/2 = 0.6454972, t_{0.975,3} = 3.182446, half = 2.0542603
    ti = t_interval([1, 2, 3, 4])
    assert (ti.n, ti.mean, ti.df) == (4, 2.5, 3)
    assert ti.se == pytest.approx(0.6454972, abs=1e-7)
    assert ti.ci_low == pytest.approx(0.4457397, abs=1e-7)
    assert ti.ci_high == pytest.approx(4.5542603, abs=1e-7)
    assert ti.method == "t-interval of the mean across seeds (df = n - 1)"


def test_t_interval_seed_example_deltas():
    # Δ per seed −0.0067, −0.0067, −0.0098: mean −0.0077333; deviations 0.0010333 (×2), −0.0020667;
    # Σ squares 6.4067e-6; s = √(6.4067e-6/2) = 0.0017898; se = s/√3 = 0.0010333;
    # t_{0.975,2} = 4.302653; half = 0.0044461; CI = [−0.0121794, −0.0032873]
    ti = t_interval([-0.0067, -0.0067, -0.0098])
    assert ti.std == pytest.approx(0.0017898, abs=1e-7)
    assert ti.ci_low == pytest.approx(-0.0121794, abs=1e-7)
    assert ti.ci_high == pytest.approx(-0.0032873, abs=1e-7)


def test_t_interval_single_value_and_equal_values():
    one = t_interval([0.01])
    assert one.ci_low is None and one.ci_high is None and one.std is None and one.df is None
    assert "no interval" in one.notes[0]
    flat = t_interval([0.5, 0.5, 0.5])
    assert flat.ci_low == flat.ci_high == 0.5 and "zero width" in flat.notes[0]


def test_t_interval_round_trip_and_bad_confidence():
    ti = t_interval([1, 2, 3, 4], confidence=0.9)
    assert TInterval.from_dict(json.loads(json.dumps(ti.to_dict()))) == ti
    with pytest.raises(RankbenchError, match=r"confidence must be strictly between 0 and 1, got 1.0"):
        t_interval([1, 2], confidence=1.0)
