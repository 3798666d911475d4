"""rota.yaml: on-call rotas (people, layers of turns, dated overrides), and the checks on them: known
people, real time zones, and someone on call at every minute of the day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, StringConstraints

from alerts.config.agencies import Addressed, by_channel, give_an_address
from alerts.config.base import ClockTime, PersonId, RotaId, Schema, unknown_time_zone
from alerts.errors import ConfigError

_DAY = 24 * 60


def _moment(value: str) -> datetime:
    return datetime.strptime(value.replace("T", " "), "%Y-%m-%d %H:%M")


def _real_moment(value: str) -> str:
    try:
        _moment(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date and time") from None
    return value


LocalMoment = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]$"),
    AfterValidator(_real_moment),
]


class _RotaPerson(Addressed):
    name: Annotated[str, StringConstraints(min_length=1)]


if TYPE_CHECKING:
    RotaPerson = _RotaPerson
else:
    RotaPerson = by_channel("RotaPerson", _RotaPerson)


class DailyHours(Schema):
    """Hours of each day a layer covers; an `end` at or before `start` runs past midnight (20:00-08:00)."""

    start: ClockTime
    end: ClockTime


class RotaLayer(Schema):
    """People take turns: people[0] from `rotation_start`, the next one `rotate_every_days` later…"""

    name: Annotated[str, StringConstraints(min_length=1)]
    rotation_start: LocalMoment = Field(description="the first handover, e.g. '2026-01-05 08:00' (local wall clock)")
    rotate_every_days: Annotated[int, Field(ge=1, le=28)] = 7
    people: Annotated[list[PersonId], Field(min_length=1)]
    hours: DailyHours | None = Field(default=None, description="omitted: around the clock")


class RotaOverride(Schema):
    """A dated cover: `person` is on call from `start` to `end` (local wall clock), over every layer."""

    person: PersonId
    start: LocalMoment
    end: LocalMoment
    reason: str = ""


class Rota(Schema):
    """An on-call rota. Later layers take precedence over earlier ones; overrides over every layer."""

    name: Annotated[str, StringConstraints(min_length=1)]
    timezone: str = "Europe/London"
    people: Annotated[dict[PersonId, RotaPerson], Field(min_length=1)]
    layers: Annotated[list[RotaLayer], Field(min_length=1)]
    overrides: list[RotaOverride] = []


class Rotas(Schema):
    rotas: dict[RotaId, Rota] = {}


def check_rotas(path: str, rotas: Rotas) -> Iterator[ConfigError]:
    for rota_id, rota in rotas.rotas.items():
        at = f"rotas.{rota_id}"
        if unknown_time_zone(rota.timezone):
            yield ConfigError(
                path, f"{at}.timezone", f"unknown time zone '{rota.timezone}'", "use an IANA name such as Europe/London"
            )
        for person_id, person in rota.people.items():
            if not person.addresses():
                yield ConfigError(
                    path, f"{at}.people.{person_id}", f"'{person_id}' has no address on any channel", give_an_address()
                )
        yield from _check_layers(path, at, rota)
        yield from _check_overrides(path, at, rota)


def _unknown_person(path: str, key: str, at: str, rota: Rota, person_id: str) -> Iterator[ConfigError]:
    if person_id not in rota.people:
        known = ", ".join(rota.people)
        yield ConfigError(path, key, f"unknown person '{person_id}'", f"add them under {at}.people or use a known id ({known})")


def _minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def _check_layers(path: str, at: str, rota: Rota) -> Iterator[ConfigError]:
    covered = [False] * _DAY
    for i, layer in enumerate(rota.layers):
        for j, person_id in enumerate(layer.people):
            yield from _unknown_person(path, f"{at}.layers[{i}].people[{j}]", at, rota, person_id)
        if layer.hours is None:
            covered = [True] * _DAY
            continue
        start, end = _minutes(layer.hours.start), _minutes(layer.hours.end)
        if start == end:
            yield ConfigError(
                path,
                f"{at}.layers[{i}].hours",
                "start and end are the same time",
                "omit hours: for a layer on call around the clock",
            )
        for minute in range(start, end) if end > start else [*range(start, _DAY), *range(0, end)]:
            covered[minute] = True
    if not all(covered):
        yield ConfigError(
            path,
            f"{at}.layers",
            f"nobody is on call from {_first_gap(covered)} on any day",
            "add a layer covering those hours, or widen a layer's hours:",
        )


def _first_gap(covered: list[bool]) -> str:
    """The first uncovered span of the day, as 'HH:MM to HH:MM'."""
    first = last = covered.index(False)
    while last + 1 < len(covered) and not covered[last + 1]:
        last += 1
    end = last + 1
    return f"{first // 60:02d}:{first % 60:02d} to {end // 60 % 24:02d}:{end % 60:02d}"


def _check_overrides(path: str, at: str, rota: Rota) -> Iterator[ConfigError]:
    for k, override in enumerate(rota.overrides):
        yield from _unknown_person(path, f"{at}.overrides[{k}].person", at, rota, override.person)
        if _moment(override.end) <= _moment(override.start):
            yield ConfigError(path, f"{at}.overrides[{k}].end", "ends before it starts", "give an end later than start")
