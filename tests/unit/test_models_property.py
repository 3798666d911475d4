"""Property-based tests of the contract (hypothesis): whatever arrives, decoding either yields a valid
model or raises RejectedInput with field-path reasons — nothing else escapes; valid events round-trip;
a rejected payload is kept byte for byte."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.errors import RejectedInput
from alerts.intake import parse_event, parse_profile, rejection
from alerts.model import PlacementEvent
from tests.support import make_event

# No example database: nothing written into the work tree (.hypothesis/).
MANY = settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example]
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=30,
)


def decodes_or_rejects(raw: bytes | str) -> PlacementEvent | None:
    try:
        return parse_event(raw)
    except RejectedInput as exc:
        assert exc.reasons, "a rejection gives at least one reason"
        for reason in exc.reasons:
            path, sep, message = reason.partition(": ")
            assert sep and path and message, reason
        return None


@MANY
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_decoded_or_rejected(raw: bytes) -> None:
    decodes_or_rejects(raw)


@MANY
@given(json_values)
def test_arbitrary_json_is_decoded_or_rejected(value: Any) -> None:
    assert decodes_or_rejects(json.dumps(value)) is None  # no random value is a whole event


@MANY
@given(st.text(max_size=500))
def test_arbitrary_text_is_decoded_or_rejected(text: str) -> None:
    decodes_or_rejects(text)
    with contextlib.suppress(RejectedInput):
        parse_profile(text)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with a few fields deleted or replaced by arbitrary JSON."""
    event = make_event()
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = event
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return event


@MANY
@given(mutated_events())
def test_damaged_events_are_decoded_or_rejected_naming_fields(event: dict[str, Any]) -> None:
    decodes_or_rejects(json.dumps(event))


# --- valid events, generated from the contract's constraints ----------------------------------------

refs = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,30}", fullmatch=True)
# Valid text: no controls, surrogates, separators or invisible format characters (alerts.intake refuses them).
VISIBLE = st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"))
texts = st.text(alphabet=VISIBLE, min_size=1, max_size=40).filter(lambda s: s.strip())
long_texts = st.text(alphabet=VISIBLE, max_size=200)
phones = st.from_regex(r"\+?[0-9][0-9 ()-]{4,17}[0-9]", fullmatch=True)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=offsets)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    reported = draw(moments)
    today = date.today()
    event_type = draw(st.sampled_from(["left_placement", "returned", "update"]))
    child: dict[str, Any] = {
        "reference": draw(refs),
        "identifiers": draw(st.lists(st.fixed_dictionaries({"scheme": refs, "value": refs}), max_size=2)),
        "given_names": draw(texts),
        "family_name": draw(st.none() | texts),
        "aliases": draw(st.lists(texts, max_size=2)),
        "sex": draw(st.sampled_from(["female", "male", "other", "unknown"])),
        "languages": draw(st.lists(texts, max_size=2)),
        "description": draw(long_texts),
    }
    if draw(st.booleans()):
        born = draw(st.dates(min_value=today.replace(year=today.year - 25), max_value=today))
        child["date_of_birth"] = {"value": born.isoformat(), "estimated": draw(st.booleans())}
    event: dict[str, Any] = {
        "event_id": draw(refs),
        "type": event_type,
        "occurred_at": draw(moments).isoformat(),
        "reported_at": reported.isoformat(),
        "placement": {
            "id": draw(refs),
            "name": draw(texts),
            "local_authority": draw(texts),
            "postcode": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ]{0,6}[A-Za-z0-9]", fullmatch=True)),
        },
        "child": child,
        "reporter": {"name": draw(texts), "role": draw(texts), "callback_phone": draw(phones)},
    }
    if event_type == "left_placement" or draw(st.booleans()):
        event["circumstances"] = {
            "last_seen_at": (reported - draw(st.timedeltas(timedelta(0), timedelta(days=30)))).isoformat(),
            "last_seen_place": draw(texts),
            "clothing": draw(long_texts),
            "accompanied_by": draw(st.lists(texts, max_size=2)),
            "vehicles": draw(st.lists(texts, max_size=2)),
            "phone_numbers": draw(st.lists(phones, max_size=2)),
            "near": draw(st.lists(st.sampled_from(["port", "airport", "coach_station", "railway_station"]), unique=True)),
            "previous_missing_episodes": draw(st.integers(0, 50)),
        }
    return event


@SOME
@given(valid_events())
def test_valid_events_are_accepted_and_round_trip(event: dict[str, Any]) -> None:
    model = parse_event(json.dumps(event))
    assert model.event_id == event["event_id"].strip()
    assert parse_event(model.model_dump_json()) == model
    assert parse_event(json.dumps(event).encode()) == model


# --- rejected payloads are kept exactly -------------------------------------------------------------


@MANY
@given(st.binary(max_size=1000), st.lists(st.text(max_size=50), min_size=1, max_size=3))
def test_a_rejection_keeps_the_payload_byte_for_byte(raw: bytes, reasons: list[str]) -> None:
    record = rejection(raw, reasons, datetime.now(UTC), source="test")
    again = type(record).model_validate_json(record.model_dump_json())
    kept = base64.b64decode(again.raw_base64) if again.raw_base64 is not None else again.raw.encode("utf-8")
    assert kept == raw and again.reasons == reasons
