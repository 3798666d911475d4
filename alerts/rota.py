"""Who is on call: weekly layers and dated overrides, on the wall clock of the rota's time zone.

Every function takes the moment as an argument (the report's receipt time, or `now` from an injected
clock) and is pure: the same rota and moment always give the same person.

Wall clock to instant (`resolve`), around the daylight-saving changes of Europe/London:
- a time that does not exist (01:00-01:59 on the last Sunday of March) is taken an hour later by the
  clock, when it would have been: 01:30 -> 02:30 BST (01:30 UTC);
- a time that occurs twice (01:00-01:59 on the last Sunday of October) is its first occurrence, BST.
Shifts are bounded by wall-clock times, so one spanning a change is an hour shorter or longer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.config import Rota, RotaLayer, RotaOverride, RotaPerson


@dataclass(frozen=True)
class OnCall:
    """A person of a rota, and why they are the one (e.g. "layer 'nights'", "override: Christmas cover")."""

    person_id: str
    person: RotaPerson
    source: str


def zone_of(rota: Rota) -> ZoneInfo:
    return ZoneInfo(rota.timezone)


def wall_clock(value: str) -> datetime:
    """'2026-01-05 08:00' (or with a T) -> a naive wall-clock datetime."""
    return datetime.strptime(value.replace("T", " "), "%Y-%m-%d %H:%M")


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def resolve(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time (see the module notes for the times DST skips or repeats).

    PEP 495 semantics with fold=0 give exactly that rule: a skipped time is read with the offset in
    force before the change (so it lands after the gap), a repeated one as its first occurrence.
    """
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the moment must be timezone-aware")
    return at.astimezone(UTC)


# --- layers -------------------------------------------------------------------------------------


def _turn(layer: RotaLayer, at: datetime, zone: ZoneInfo) -> int | None:
    """How many handovers of the layer have happened by `at` (0: people[0]'s turn); None before the first."""
    start = wall_clock(layer.rotation_start)
    period = timedelta(days=layer.rotate_every_days)

    def handover(k: int) -> datetime:
        return resolve(start + k * period, zone)

    if at < handover(0):
        return None
    local = at.astimezone(zone).replace(tzinfo=None)
    k = max(0, math.floor((local - start) / period))
    while k > 0 and handover(k) > at:
        k -= 1
    while handover(k + 1) <= at:
        k += 1
    return k


def _in_hours(layer: RotaLayer, at: datetime, zone: ZoneInfo) -> bool:
    if layer.hours is None:
        return True
    start, end = _clock(layer.hours.start), _clock(layer.hours.end)
    today = at.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        begins = resolve(datetime.combine(day, start), zone)
        ends = resolve(datetime.combine(day if end > start else day + timedelta(days=1), end), zone)
        if begins <= at < ends:
            return True
    return False


def layer_on_call(layer: RotaLayer, at: datetime, zone: ZoneInfo) -> str | None:
    """The person id the layer puts on call at `at`, or None (outside its hours, or not started)."""
    at = _aware(at)
    if not _in_hours(layer, at, zone):
        return None
    turn = _turn(layer, at, zone)
    return None if turn is None else layer.people[turn % len(layer.people)]


def _override_at(rota: Rota, at: datetime, zone: ZoneInfo) -> RotaOverride | None:
    found = None
    for override in rota.overrides:  # the last listed wins where overrides overlap
        if resolve(wall_clock(override.start), zone) <= at < resolve(wall_clock(override.end), zone):
            found = override
    return found


# --- the rota -----------------------------------------------------------------------------------


def on_call(rota: Rota, at: datetime) -> OnCall | None:
    """Who is on call at `at`: an override, else the last layer covering that time; None if nobody."""
    at, zone = _aware(at), zone_of(rota)
    override = _override_at(rota, at, zone)
    if override is not None:
        source = f"override{': ' + override.reason if override.reason else ''}"
        return OnCall(override.person, rota.people[override.person], source)
    for layer in reversed(rota.layers):
        person_id = layer_on_call(layer, at, zone)
        if person_id is not None:
            return OnCall(person_id, rota.people[person_id], f"layer '{layer.name}'")
    return None


def on_call_order(rota: Rota, at: datetime) -> list[OnCall]:
    """Everyone in the rota, in the order to try them at `at`.

    The person on call first; then, for each layer covering `at` (latest first), its people in
    rotation order after the one whose turn it is; then the other layers' people likewise; then
    anyone else listed under people. Each person once.
    """
    at, zone = _aware(at), zone_of(rota)
    order: dict[str, OnCall] = {}

    def add(person_id: str, source: str) -> None:
        if person_id not in order:
            order[person_id] = OnCall(person_id, rota.people[person_id], source)

    current = on_call(rota, at)
    if current is not None:
        add(current.person_id, current.source)
    covering = [layer for layer in reversed(rota.layers) if _in_hours(layer, at, zone)]
    others = [layer for layer in reversed(rota.layers) if layer not in covering]
    for layer in [*covering, *others]:
        turn = _turn(layer, at, zone) or 0
        size = len(layer.people)
        for step in range(size):
            add(layer.people[(turn + step) % size], f"next in layer '{layer.name}'")
    for person_id in rota.people:
        add(person_id, "listed in the rota")
    return list(order.values())


def next_on_call(rota: Rota, after_person: str, at: datetime) -> OnCall | None:
    """Whom to try when `after_person` cannot be reached at `at`: the one after them in `on_call_order`.

    None once the order is exhausted. Raises KeyError for a person the rota does not list.
    """
    if after_person not in rota.people:
        raise KeyError(f"'{after_person}' is not in the rota")
    order = on_call_order(rota, at)
    ids = [entry.person_id for entry in order]
    position = ids.index(after_person)
    return order[position + 1] if position + 1 < len(order) else None


def person_by_address(rota: Rota, channel: str, address: str) -> str | None:
    """The id of the person reached at `address` on `channel` (a registered channel's name), if any."""
    for person_id, person in rota.people.items():
        if person.address(channel) == address:
            return person_id
    return None


def handovers(rota: Rota, start: datetime, end: datetime) -> list[tuple[datetime, OnCall | None]]:
    """Each change of who is on call in [start, end), with the person from then on (for `crucial route`
    and tests). Candidate instants are the layers' handovers, hour boundaries and override edges."""
    start, end, zone = _aware(start), _aware(end), zone_of(rota)
    candidates: set[datetime] = {start}
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    day: date = first_day
    while day <= last_day:
        for layer in rota.layers:
            rotation_clock = wall_clock(layer.rotation_start).time()
            candidates.add(resolve(datetime.combine(day, rotation_clock), zone))
            if layer.hours is not None:
                for edge in (layer.hours.start, layer.hours.end):
                    candidates.add(resolve(datetime.combine(day, _clock(edge)), zone))
        day += timedelta(days=1)
    for override in rota.overrides:
        candidates.add(resolve(wall_clock(override.start), zone))
        candidates.add(resolve(wall_clock(override.end), zone))
    changes: list[tuple[datetime, OnCall | None]] = []
    previous: tuple[str, str] | None = None
    for moment in sorted(c for c in candidates if start <= c < end):
        who = on_call(rota, moment)
        key = (who.person_id, who.source) if who else ("", "")
        if key != previous:
            changes.append((moment, who))
            previous = key
    return changes
