"""Schedules: their text is a valid spelling of the schedule (what a record shows, a spec can ask for)."""

from __future__ import annotations

import pytest

from sgdlab.methods.schedules import Cosine, InverseSqrt, InverseTime, StepDecay, Warmup, as_schedule

SCHEDULES = [
    InverseTime(),
    InverseTime(k0=400.0),
    InverseSqrt(),
    StepDecay(every=10, factor=0.5),
    Cosine(total=100, final=0.1),
    Warmup(steps=5, then=InverseTime(k0=3.0)),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=str)
def test_text_round_trips(schedule):
    again = as_schedule(str(schedule))
    assert again == schedule
    assert [again(k) for k in range(1, 50)] == [schedule(k) for k in range(1, 50)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("InverseTime(k0=-1)", "k0 must be > 0"),
        ("InverseTime(1)", "schedule must be"),  # positional arguments are ambiguous: refused
        ("__import__('os').system('true')", "schedule must be"),
        ("StepDecay(every=x)", "schedule must be"),
        ("Constant(", "schedule must be"),
    ],
)
def test_bad_text_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        as_schedule(text)
