"""The directory's read-your-writes lookup: a hit answers at once, a miss is looked up again once the
directory has caught up (alerts/directory.py look); and what it holds stays bounded over a long run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import alerts.directory as directory_module
from alerts.directory import IncidentDirectory
from alerts.model import (
    Decision,
    DeliveryRecord,
    Incident,
    IncidentRecord,
    IncidentStatus,
    MatchResult,
    Priority,
    TimelineEntry,
)


class _Lagging:
    """A catch_up that applies what was written meanwhile, as the directory's follower would."""

    def __init__(self, written: list[str], known: set[str]) -> None:
        self.written, self.known, self.calls = written, known, 0

    async def __call__(self) -> bool:
        self.calls += 1
        self.known.update(self.written)
        return True


def _lookup(known: set[str], wanted: str) -> str | None:
    return wanted if wanted in known else None


def test_a_hit_is_answered_without_catching_up() -> None:
    directory, known = IncidentDirectory(), {"CH-1"}
    directory.catch_up = lagging = _Lagging(["CH-2"], known)
    assert asyncio.run(directory.look(lambda: _lookup(known, "CH-1"))) == "CH-1"
    assert lagging.calls == 0


def test_a_miss_is_looked_up_again_after_catching_up_once() -> None:
    directory, known = IncidentDirectory(), set[str]()
    directory.catch_up = lagging = _Lagging(["CH-2"], known)
    assert asyncio.run(directory.look(lambda: _lookup(known, "CH-2"))) == "CH-2"  # written, not read yet
    assert lagging.calls == 1


def test_a_true_miss_stays_a_miss_after_one_catch_up() -> None:
    directory, known = IncidentDirectory(), set[str]()
    directory.catch_up = lagging = _Lagging(["CH-2"], known)
    assert asyncio.run(directory.look(lambda: _lookup(known, "CH-9"))) is None
    assert lagging.calls == 1


def test_without_a_follower_a_miss_is_answered_from_what_is_applied() -> None:
    assert asyncio.run(IncidentDirectory().look(lambda: None)) is None


# --- a long run: what the directory holds stays bounded ------------------------------------------------

T0 = datetime(2026, 7, 14, 20, 51, tzinfo=UTC)


def _incident(n: int, status: IncidentStatus) -> IncidentRecord:
    incident = Incident(
        incident_id=f"inc-{n}",
        reference=f"CH-{n}",
        status=status,
        event_id=f"evt-{n}",
        child_reference=f"HAR-{n}",
        placement_id="plc-1",
        local_authority="Harrow",
        match=MatchResult(decision=Decision.MATCH, profile_id="prof-1", score=0.99),
        priority=Priority.HIGH,
        last_seen_at=T0,
        received_at=T0 + timedelta(minutes=n),
        deadline=T0 + timedelta(minutes=n + 60),
        timeline=[TimelineEntry(at=T0, what="opened")] * (1 if status == IncidentStatus.OPEN else 2),
    )
    return IncidentRecord(change="opened" if status == IncidentStatus.OPEN else "resolved", at=T0, incident=incident)


def _step(n: int, state: str, seconds: int = 1) -> DeliveryRecord:
    return DeliveryRecord(
        idempotency_key=f"key-{n}",
        incident_id=f"inc-{n}",
        channel="sms",
        kind="alert",
        state=state,  # type: ignore[arg-type]
        at=T0 + timedelta(seconds=seconds),
    )


def _run(directory: IncidentDirectory, incidents: int) -> None:
    """Open, deliver and resolve `incidents` incidents, then read a late step of each (a repeated callback)."""
    for n in range(incidents):
        directory.apply_incident(_incident(n, IncidentStatus.OPEN))
        directory.apply_delivery(_step(n, "accepted"))
        directory.apply_incident(_incident(n, IncidentStatus.RESOLVED))
    for n in range(incidents):
        directory.apply_delivery(_step(n, "delivered", seconds=30))


def test_resolved_incidents_beyond_those_kept_are_forgotten_their_last_steps_still_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(directory_module, "KEPT_AFTER_RESOLVED", 3)
    directory, forgotten = IncidentDirectory(), list[str]()
    directory.on_forget.append(lambda view: forgotten.append(view.incident.incident_id))
    _run(directory, 10)
    assert forgotten == [f"inc-{n}" for n in range(7)]  # the oldest first
    assert directory.sizes() == {
        "incidents": 3,
        "delivery steps": 3,
        "early steps": 0,
        "forgotten ids": 7,
        "forgotten steps": 7,
    }
    assert directory.get("inc-0") is None and directory.by_reference("CH-0") is None
    # A notification of a forgotten incident read again must still find it was sent (and its late step).
    assert directory.delivery("inc-0", "key-0").state == "delivered"  # type: ignore[union-attr]
    assert directory.delivery("inc-1", "key-0") is None  # another incident's key: not this one's step
    directory.apply_incident(_incident(0, IncidentStatus.RESOLVED))  # a stale record read again
    assert directory.get("inc-0") is None
    assert directory.delivery("inc-9", "key-9").state == "delivered"  # type: ignore[union-attr]


def test_what_it_keeps_of_forgotten_incidents_is_bounded_the_newest_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directory_module, "KEPT_AFTER_RESOLVED", 2)
    monkeypatch.setattr(directory_module, "FORGOTTEN_REMEMBERED", 10)
    monkeypatch.setattr(directory_module, "FORGOTTEN_STEPS_KEPT", 5)
    directory = IncidentDirectory()
    _run(directory, 14)
    sizes = directory.sizes()
    assert (sizes["incidents"], sizes["forgotten ids"], sizes["forgotten steps"]) == (2, 10, 5)
    assert directory.delivery("inc-11", "key-11") is not None  # among the newest
    assert directory.delivery("inc-2", "key-2") is None  # among the oldest: let go
    # The late steps of incidents whose ids were let go wait as early ones: the bounds are set so that
    # this takes more forgotten incidents than a worker sees between a notification and its callback.
    assert sizes["early steps"] == 14 - 2 - 10


def test_listeners_hear_each_step_as_it_is_applied() -> None:
    directory, heard = IncidentDirectory(), list[str]()
    directory.on_delivery.append(lambda record: heard.append(f"{record.incident_id}:{record.state}"))
    directory.apply_delivery(_step(1, "intent"))  # before its incident: kept as an early step, heard all the same
    directory.apply_incident(_incident(1, IncidentStatus.OPEN))
    directory.apply_delivery(_step(1, "accepted", seconds=2))
    assert heard == ["inc-1:intent", "inc-1:accepted"]
    assert directory.delivery("inc-1", "key-1").state == "accepted"  # type: ignore[union-attr]


# --- its state, kept on disk: restored, it answers and goes on as the directory it was taken from ----


def _replayed(directory: IncidentDirectory, first: int, last: int) -> None:
    """Incidents first..last: some resolved (some forgotten), some open, and one step read before its incident."""
    for n in range(first, last):
        directory.apply_incident(_incident(n, IncidentStatus.OPEN))
        directory.apply_delivery(_step(n, "accepted"))
        if n % 3:
            directory.apply_incident(_incident(n, IncidentStatus.RESOLVED))
    directory.apply_delivery(_step(last, "intent"))  # its incident not read yet: an early step


def test_a_restored_state_answers_as_the_directory_it_was_taken_from_and_goes_on_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(directory_module, "KEPT_AFTER_RESOLVED", 4)
    original = IncidentDirectory()
    _replayed(original, 0, 12)
    restored = IncidentDirectory()
    restored.restore(original.state())
    assert restored.sizes() == original.sizes() and original.sizes()["forgotten ids"] > 0
    assert restored.sizes()["early steps"] == 1
    assert [v.incident.incident_id for v in restored.open()] == [v.incident.incident_id for v in original.open()]
    assert restored.by_reference("ch-9") is not None and restored.by_reference("CH-9") == original.by_reference("CH-9")
    assert restored.delivery("inc-1", "key-1") == original.delivery("inc-1", "key-1")  # a forgotten incident's step
    assert restored.get("inc-9").first_delivery_at == original.get("inc-9").first_delivery_at  # type: ignore[union-attr]
    # What follows is applied to both: the early step meets its incident, more are forgotten.
    for directory in (original, restored):
        _replayed(directory, 12, 20)
    assert restored.state() == original.state()
    assert restored.get("inc-12").deliveries["key-12"].state == "accepted"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "damage",
    [
        lambda state: state.pop("forgotten"),
        lambda state: state["incidents"][0].update(incident='{"incident_id": "inc-x"}'),
        lambda state: state["incidents"][0].update(first_delivery_at="yesterday"),
        lambda state: state["forgotten_steps"].append(["only-a-key"]),
    ],
    ids=["a part missing", "an incident that is not one", "a date that is not one", "a step cut short"],
)
def test_a_state_that_does_not_read_back_raises_and_changes_nothing(damage: object) -> None:
    original = IncidentDirectory()
    _replayed(original, 0, 3)
    state = original.state()
    damage(state)  # type: ignore[operator]
    held = IncidentDirectory()
    _replayed(held, 40, 42)
    before = held.state()
    with pytest.raises((KeyError, TypeError, ValueError)):
        held.restore(state)
    assert held.state() == before
