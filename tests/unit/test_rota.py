"""On-call rotas: weekly layers, overrides, fallback order, and the Europe/London clock changes.

2026's changes: Sunday 29 March 01:00 GMT -> 02:00 BST (01:00-01:59 does not exist);
Sunday 25 October 02:00 BST -> 01:00 GMT (01:00-01:59 happens twice).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from alerts.config import Rota, Rotas
from alerts.rota import handovers, layer_on_call, next_on_call, on_call, on_call_order, resolve

LONDON = ZoneInfo("Europe/London")

DAY_NIGHT = """
name: Test BCU on-call sergeant
people:
  a: {name: Day One, sms: "+447700900001"}
  b: {name: Day Two, sms: "+447700900002"}
  c: {name: Night One, sms: "+447700900003", email: n1@police.example}
  d: {name: Night Two, email: n2@police.example}
  e: {name: Inspector Cover, sms: "+447700900005"}
layers:
  - name: days
    rotation_start: "2026-01-05 08:00"
    hours: {start: "08:00", end: "20:00"}
    people: [a, b]
  - name: nights
    rotation_start: "2026-01-05 20:00"
    hours: {start: "20:00", end: "08:00"}
    people: [c, d]
overrides:
  - {person: e, start: "2026-12-24 20:00", end: "2026-12-26 08:00", reason: Christmas cover}
"""


def rota(text: str = DAY_NIGHT, **changes: Any) -> Rota:
    data = yaml.safe_load(text)
    data.update(changes)
    return Rotas.model_validate({"rotas": {"r": data}}).rotas["r"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def who(r: Rota, at: datetime) -> str | None:
    found = on_call(r, at)
    return found.person_id if found else None


# --- the wall clock -------------------------------------------------------------------------------


def test_resolve_a_time_the_spring_change_skips_lands_after_the_gap() -> None:
    # 01:30 on 29 March 2026 never shows on a London clock: it is taken as 02:30 BST, 01:30 UTC.
    assert resolve(datetime(2026, 3, 29, 1, 30), LONDON) == utc(2026, 3, 29, 1, 30)
    assert resolve(datetime(2026, 3, 29, 2, 30), LONDON) == utc(2026, 3, 29, 1, 30)
    assert resolve(datetime(2026, 3, 29, 0, 59), LONDON) == utc(2026, 3, 29, 0, 59)


def test_resolve_a_time_the_autumn_change_repeats_is_its_first_occurrence() -> None:
    assert resolve(datetime(2026, 10, 25, 1, 30), LONDON) == utc(2026, 10, 25, 0, 30)  # BST
    assert resolve(datetime(2026, 10, 25, 2, 0), LONDON) == utc(2026, 10, 25, 2, 0)  # GMT


# --- layers and handovers -------------------------------------------------------------------------


def test_days_and_nights_hand_over_at_08_and_20_london_time() -> None:
    r = rota()
    # Tuesday 14 July 2026 is BST: 08:00 local is 07:00 UTC. Week 27 since 5 January: people[1].
    assert who(r, utc(2026, 7, 14, 6, 59)) == "d"
    assert who(r, utc(2026, 7, 14, 7, 0)) == "b"
    assert who(r, utc(2026, 7, 14, 18, 59)) == "b"
    assert who(r, utc(2026, 7, 14, 19, 0)) == "d"
    # In winter (GMT) the same handovers are at 08:00 and 20:00 UTC.
    assert who(r, utc(2026, 1, 6, 7, 59)) == "c"
    assert who(r, utc(2026, 1, 6, 8, 0)) == "a"
    assert who(r, utc(2026, 1, 6, 20, 0)) == "c"


def test_people_rotate_weekly_at_the_handover() -> None:
    r = rota()
    assert who(r, utc(2026, 1, 12, 7, 59)) == "c"  # Monday 12 Jan: the night shift that began Sunday, week 0
    assert who(r, utc(2026, 1, 12, 8, 0)) == "b"  # days, week 1
    assert who(r, utc(2026, 1, 12, 19, 59)) == "b"
    assert who(r, utc(2026, 1, 12, 20, 0)) == "d"  # nights, week 1
    assert who(r, utc(2026, 1, 19, 8, 0)) == "a"  # week 2: round again


def test_nobody_before_a_layer_starts() -> None:
    r = rota()
    assert who(r, utc(2026, 1, 5, 7, 0)) is None
    assert layer_on_call(r.layers[0], utc(2026, 1, 5, 8, 0), LONDON) == "a"


def test_a_night_shift_spanning_the_spring_change_is_eleven_hours() -> None:
    r = rota()
    changes = handovers(r, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 12, 0))
    moments = [(at, found.person_id if found else None) for at, found in changes]
    # Saturday 20:00 GMT -> Sunday 08:00 BST (07:00 UTC).
    assert [at for at, _ in moments[1:]] == [utc(2026, 3, 28, 20, 0), utc(2026, 3, 29, 7, 0)]
    assert moments[2][0] - moments[1][0] == timedelta(hours=11)
    assert who(r, utc(2026, 3, 29, 6, 59)) == moments[1][1]
    assert who(r, utc(2026, 3, 29, 0, 30)) == moments[1][1]  # 00:30 GMT and 02:30 BST: the same shift
    assert who(r, utc(2026, 3, 29, 1, 30)) == moments[1][1]


def test_a_night_shift_spanning_the_autumn_change_is_thirteen_hours() -> None:
    r = rota()
    changes = handovers(r, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 12, 0))
    moments = [at for at, _ in changes[1:]]
    # Saturday 20:00 BST (19:00 UTC) -> Sunday 08:00 GMT (08:00 UTC).
    assert moments == [utc(2026, 10, 24, 19, 0), utc(2026, 10, 25, 8, 0)]
    night = who(r, utc(2026, 10, 24, 19, 0))
    for minutes in range(0, 13 * 60, 15):  # the whole shift, both 01:xx hours included
        assert who(r, utc(2026, 10, 24, 19, 0) + timedelta(minutes=minutes)) == night


SKIPPED_HANDOVER = """
name: Weekly rota handing over at 01:30 on Sundays
people:
  x: {name: First, sms: "+447700900011"}
  y: {name: Second, sms: "+447700900012"}
  z: {name: Third, sms: "+447700900013"}
layers:
  - name: weekly
    rotation_start: "{start}"
    people: [x, y, z]
"""


def test_a_handover_at_a_time_that_does_not_exist_happens_when_it_would_have_been() -> None:
    r = rota(SKIPPED_HANDOVER.replace("{start}", "2026-03-22 01:30"))
    assert who(r, utc(2026, 3, 22, 1, 30)) == "x"
    # 29 March 01:30 does not exist: the handover is at 02:30 BST, 01:30 UTC.
    assert who(r, utc(2026, 3, 29, 0, 59)) == "x"  # 00:59 GMT
    assert who(r, utc(2026, 3, 29, 1, 29)) == "x"  # 02:29 BST
    assert who(r, utc(2026, 3, 29, 1, 30)) == "y"  # 02:30 BST
    # The week after, 01:30 BST exists again: 00:30 UTC.
    assert who(r, utc(2026, 4, 5, 0, 29)) == "y"
    assert who(r, utc(2026, 4, 5, 0, 30)) == "z"


def test_a_handover_at_a_time_that_happens_twice_is_at_the_first_and_only_once() -> None:
    r = rota(SKIPPED_HANDOVER.replace("{start}", "2026-10-18 01:30"))
    assert who(r, utc(2026, 10, 25, 0, 29)) == "x"  # 01:29 BST
    assert who(r, utc(2026, 10, 25, 0, 30)) == "y"  # 01:30 BST, the first 01:30
    assert who(r, utc(2026, 10, 25, 1, 30)) == "y"  # 01:30 GMT, the second: no second handover
    assert who(r, utc(2026, 10, 31, 23, 59)) == "y"
    assert who(r, utc(2026, 11, 1, 1, 30)) == "z"  # 01:30 GMT the week after


def test_every_quarter_hour_across_both_changes_someone_is_on_call_and_handovers_are_at_08_and_20() -> None:
    r = rota()
    for start in (utc(2026, 3, 25), utc(2026, 10, 21)):
        previous = None
        for quarter in range(7 * 24 * 4):
            at = start + timedelta(minutes=15 * quarter)
            current = who(r, at)
            assert current is not None
            if previous is not None and current != previous:
                assert at.astimezone(LONDON).strftime("%H:%M") in ("08:00", "20:00"), at
            previous = current


# --- overrides -------------------------------------------------------------------------------------


def test_an_override_wins_over_every_layer_in_local_time() -> None:
    r = rota()
    assert who(r, utc(2026, 12, 24, 19, 59)) in ("a", "b")
    found = on_call(r, utc(2026, 12, 24, 20, 0))
    assert found is not None and found.person_id == "e" and found.source == "override: Christmas cover"
    assert who(r, utc(2026, 12, 25, 12, 0)) == "e"
    assert who(r, utc(2026, 12, 26, 8, 0)) in ("a", "b")


def test_an_override_across_the_spring_change_ends_on_the_local_clock() -> None:
    r = rota(overrides=[{"person": "e", "start": "2026-03-28 20:00", "end": "2026-03-29 08:00"}])
    assert who(r, utc(2026, 3, 29, 6, 59)) == "e"
    assert who(r, utc(2026, 3, 29, 7, 0)) in ("a", "b")  # 08:00 BST


def test_the_last_listed_override_wins_where_two_overlap() -> None:
    r = rota(
        overrides=[
            {"person": "e", "start": "2026-05-01 00:00", "end": "2026-05-03 00:00"},
            {"person": "c", "start": "2026-05-02 00:00", "end": "2026-05-02 12:00"},
        ]
    )
    assert who(r, utc(2026, 5, 1, 12, 0)) == "e"
    assert who(r, utc(2026, 5, 2, 6, 0)) == "c"


# --- fallback ---------------------------------------------------------------------------------------


def test_fallback_order_is_the_active_layers_rotation_then_the_others_then_everyone() -> None:
    r = rota()
    at = utc(2026, 1, 6, 12, 0)  # days, week 0: a on call
    assert [o.person_id for o in on_call_order(r, at)] == ["a", "b", "c", "d", "e"]
    assert [o.person_id for o in on_call_order(r, utc(2026, 1, 13, 22, 0))] == [
        "d",
        "c",
        "b",
        "a",
        "e",
    ]  # week 1: b has the days turn


def test_next_on_call_after_a_person_who_cannot_be_reached() -> None:
    r = rota()
    at = utc(2026, 1, 13, 12, 0)  # days, week 1: b
    following = next_on_call(r, "b", at)
    assert following is not None and following.person_id == "a" and "days" in following.source
    assert next_on_call(r, "a", at) is not None
    assert next_on_call(r, "e", at) is None  # the end of the order
    with pytest.raises(KeyError):
        next_on_call(r, "nobody", at)


def test_next_on_call_during_an_override_falls_back_to_the_layer_on_duty() -> None:
    r = rota()
    following = next_on_call(r, "e", utc(2026, 12, 24, 22, 0))
    assert following is not None and following.person_id in ("c", "d")


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(rota(), datetime(2026, 1, 6, 12, 0))
