"""Intake bounds shared by every way in (alerts/intake.py): times, size, depth, duplicate keys, characters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import IntakeLimits
from alerts.errors import RejectedInput
from alerts.intake import (
    MAX_NAME_REASONS,
    MAX_NAME_WORDS,
    PROFILE_MAX_ENTRIES,
    REPORT_MAX_ENTRIES,
    parse_event,
    parse_profile,
    rejection,
)
from tests.support import make_event

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
LIMITS = IntakeLimits()


def reasons(raw: bytes | str, now: datetime | None = NOW, limits: IntakeLimits = LIMITS) -> list[str]:
    with pytest.raises(RejectedInput) as caught:
        parse_event(raw, limits, now)
    return caught.value.reasons


def event(**changes: object) -> dict:  # type: ignore[type-arg]
    data = make_event(now=NOW)
    data.update(changes)
    return data


def test_a_current_report_is_accepted() -> None:
    assert parse_event(json.dumps(event()), LIMITS, NOW).event_id


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "1969-12-31T23:59:59Z"])
@pytest.mark.parametrize("field", ["occurred_at", "reported_at", "last_seen_at"])
def test_dates_that_would_overflow_arithmetic_are_refused_even_offline(field: str, moment: str) -> None:
    data = event()
    if field == "last_seen_at":
        data["circumstances"]["last_seen_at"] = moment
    else:
        data[field] = moment
    got = reasons(json.dumps(data), now=None)  # without a clock (e.g. `crucial match`), still refused
    assert any("must lie between 1970 and 2200" in r for r in got)
    assert not any(moment[:4] in r for r in got)  # the value is never quoted


def test_times_ahead_of_the_server_clock_are_refused() -> None:
    data = event(reported_at=(NOW + timedelta(minutes=6)).isoformat())
    assert reasons(json.dumps(data)) == ["reported_at: more than 300 s ahead of the server clock"]
    data = event(reported_at=(NOW + timedelta(minutes=4)).isoformat())
    assert parse_event(json.dumps(data), LIMITS, NOW)


def test_a_last_seen_time_too_far_back_is_refused() -> None:
    data = make_event(now=NOW, last_seen_ago=timedelta(days=32))
    assert reasons(json.dumps(data)) == [
        "occurred_at: more than 31 days in the past",
        "circumstances.last_seen_at: more than 31 days in the past",
    ]
    assert parse_event(json.dumps(make_event(now=NOW, last_seen_ago=timedelta(days=30))), LIMITS, NOW)


def test_deep_json_is_refused_without_recursing() -> None:
    for depth in (17, 1000, 100_000):
        assert reasons("[" * depth + "]" * depth) == [f"(root): nested {depth} levels deep; the limit is 16"]
    # brackets inside strings do not count
    data = event()
    data["circumstances"]["notes"] = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{{{{{"
    assert parse_event(json.dumps(data), LIMITS, NOW)


def test_duplicate_keys_are_refused_anywhere() -> None:
    text = json.dumps(event(type="left_placement"))
    assert reasons(text.replace('"type": "left_placement"', '"type": "left_placement", "type": "returned"')) == [
        "type: key given more than once"
    ]
    nested = text.replace('"given_names": ', '"given_names": "A", "given_names": ')
    assert reasons(nested) == ["given_names: key given more than once"]


def test_a_key_that_is_not_a_field_name_is_not_quoted() -> None:
    data = event()
    data["child"]["Minh Tran 2010-01-01"] = "x"
    got = reasons(json.dumps(data))
    assert got == ["child.?: Extra inputs are not permitted"]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_are_refused_with_the_field(char: str) -> None:
    data = event()
    data["child"]["given_names"] = f"Mi{char}nh"
    got = reasons(json.dumps(data))
    assert got == [f"child.given_names: contains a control or invisible character (U+{ord(char):04X})"]


@pytest.mark.parametrize("char", ["\u200b", "\u00ad", "\u200e", "\u200f", "\u202c", "\u202e", "\u2066", "\u2060", "\ufeff"])
def test_meaningless_invisible_characters_are_folded_away_not_refused(char: str) -> None:
    # Pasted from a document or a phone: a report is not turned away for them, and matching never sees them.
    data = event()
    data["child"]["given_names"] = f"Mi{char}nh"
    data["circumstances"]["last_seen_place"] = f"Front{char} gate"
    parsed = parse_event(json.dumps(data), LIMITS, NOW)
    assert parsed.child.given_names == "Minh"
    assert parsed.circumstances is not None and parsed.circumstances.last_seen_place == "Front gate"
    # In a key they are refused like any other: keys are the contract's names.
    data["child"][f"given{char}_names"] = "x"
    assert reasons(json.dumps(data)) == ["child: a key contains a control or invisible character"]


def test_line_and_paragraph_separators_become_spaces() -> None:
    data = event()
    data["circumstances"]["last_seen_place"] = "Front\u2028gate\u2029Larchwood"
    parsed = parse_event(json.dumps(data), LIMITS, NOW)
    assert parsed.circumstances is not None and parsed.circumstances.last_seen_place == "Front gate Larchwood"


def test_joiners_and_line_breaks_in_free_text_are_kept() -> None:
    data = event()
    data["child"]["given_names"] = "Nasrin\u200cZahra"  # the zero-width non-joiner spells Persian names
    data["circumstances"]["notes"] = "line one\nline two\ttabbed"
    assert parse_event(json.dumps(data), LIMITS, NOW).child.given_names == "Nasrin\u200cZahra"


def test_size_is_bounded_before_anything_is_parsed() -> None:
    small = IntakeLimits(max_bytes=2048)
    assert reasons(b"\xff" * 5000, limits=small) == ["(size): 5000 bytes exceeds the limit of 2048 bytes"]
    with pytest.raises(RejectedInput):
        parse_profile(b"{" * 10_000, small)


def test_nan_is_not_json() -> None:
    assert reasons('{"event_id": NaN}')[0].startswith("(root): not JSON")


def test_rejection_records_are_bounded_with_length_and_hash() -> None:
    raw = b"\xff" * 1_000_000
    kept = rejection(raw, ["(root): not UTF-8"] * 100, NOW, "placement-events", max_raw_bytes=16384)
    text = kept.model_dump_json()
    assert len(text) < 100_000  # was 3.7 MB for this payload, which the broker refused
    assert kept.truncated and kept.raw_length == 1_000_000 and len(kept.raw_sha256 or "") == 64
    assert len(kept.reasons) == 20
    whole = rejection(b'{"a": 1}', ["x: y"], NOW, "api")
    assert whole.raw == '{"a": 1}' and not whole.truncated and whole.raw_base64 is None


# --- dates of birth: against the clock intake is given, never inside the model ------------------------

A_YEAR = timedelta(days=366)


def profile_born(born: str) -> str:
    from tests.support import sample_profiles

    profile = sample_profiles()[0]
    profile["date_of_birth"] = {"value": born, "estimated": True}
    return json.dumps(profile)


def test_a_date_of_birth_in_the_future_is_refused_at_intake() -> None:
    data = event()
    data["child"]["date_of_birth"] = {"value": (NOW + timedelta(days=2)).date().isoformat()}
    assert reasons(json.dumps(data)) == ["child.date_of_birth: value is in the future"]
    with pytest.raises(RejectedInput) as caught:
        parse_profile(profile_born((NOW + timedelta(days=2)).date().isoformat()), now=NOW)
    assert caught.value.reasons == ["date_of_birth: value is in the future"]


def test_a_stored_profile_still_validates_a_year_later() -> None:
    """A profile accepted today, nearly as old as any child in care, and read back from the profiles
    topic (no clock) a year on, is still a profile; only intake, given the later clock, refuses it."""
    almost_too_old = (NOW - timedelta(days=26 * 365)).date().isoformat()
    stored = profile_born(almost_too_old)
    assert parse_profile(stored, now=NOW).date_of_birth is not None
    assert parse_profile(stored).date_of_birth is not None  # read back: whatever today's date is
    with pytest.raises(RejectedInput) as caught:
        parse_profile(stored, now=NOW + A_YEAR)
    assert caught.value.reasons == ["date_of_birth: value is more than 26 years ago"]


def test_a_stored_report_with_a_date_of_birth_long_ago_still_decodes_offline() -> None:
    data = event()
    data["child"]["date_of_birth"] = {"value": "1990-01-01"}
    assert parse_event(json.dumps(data)).child.date_of_birth is not None
    assert reasons(json.dumps(data)) == ["child.date_of_birth: value is more than 26 years ago"]


def test_a_29_february_clock_does_not_break_the_age_bound() -> None:
    leap_day = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert parse_profile(profile_born("2014-02-28"), now=leap_day).date_of_birth is not None


# --- how much one record may ask of the matcher -------------------------------------------------


def words(n: int) -> str:
    return " ".join(f"Name{chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(n))


def test_a_name_of_more_words_than_the_bound_is_refused_wherever_it_is_in_a_report() -> None:
    data = event()
    data["child"]["given_names"] = words(MAX_NAME_WORDS)  # at the bound: accepted
    assert parse_event(json.dumps(data), LIMITS, NOW).child.given_names
    data["child"]["given_names"] = words(MAX_NAME_WORDS + 1)
    data["child"]["aliases"] = ["Ana Maria", words(40)]
    data["circumstances"]["accompanied_by"] = [words(12)]
    assert reasons(json.dumps(data)) == [
        f"child.given_names: a name of at most {MAX_NAME_WORDS} words, not {MAX_NAME_WORDS + 1}",
        f"child.aliases[1]: a name of at most {MAX_NAME_WORDS} words, not 40",
        f"circumstances.accompanied_by[0]: a name of at most {MAX_NAME_WORDS} words, not 12",
    ]


def test_words_are_counted_whatever_separates_them() -> None:
    """Hyphens, dots or underscores do not hide words from the bound (the matcher splits on them too)."""
    data = event()
    data["child"]["family_name"] = "-".join(["ab"] * 60)
    data["child"]["aliases"] = [".".join(["cd"] * 30), "_".join(["ef"] * 30)]
    assert [r.split(":")[0] for r in reasons(json.dumps(data))] == ["child.family_name", "child.aliases[0]", "child.aliases[1]"]


@pytest.mark.parametrize(
    ("where", "field", "item"),
    [
        ("child", "aliases", "Ana Maria"),
        ("child", "identifiers", {"scheme": "home_office", "value": "HO-S1234567"}),
        ("child", "languages", "Romanian"),
        ("circumstances", "accompanied_by", "Sam Jones"),
        ("circumstances", "vehicles", "AB12 CDE"),
        ("circumstances", "phone_numbers", "+447700900123"),
        ("circumstances", "near", "port"),
    ],
)
def test_a_report_list_longer_than_the_bound_is_refused_with_its_path(where: str, field: str, item: object) -> None:
    data = event()
    data[where][field] = [item] * REPORT_MAX_ENTRIES
    assert parse_event(json.dumps(data), LIMITS, NOW).event_id
    data[where][field] = [item] * (REPORT_MAX_ENTRIES + 1)
    assert reasons(json.dumps(data)) == [f"{where}.{field}: at most {REPORT_MAX_ENTRIES} entries, not {REPORT_MAX_ENTRIES + 1}"]


def test_a_thousand_long_names_give_a_bounded_list_of_reasons() -> None:
    data = event()
    data["child"]["aliases"] = [words(11)] * 1000
    found = reasons(json.dumps(data))
    assert len(found) == MAX_NAME_REASONS + 2
    assert found[MAX_NAME_REASONS] == f"(more): {1000 - MAX_NAME_REASONS} more name(s) of over {MAX_NAME_WORDS} words"
    assert found[-1] == f"child.aliases: at most {REPORT_MAX_ENTRIES} entries, not 1000"


def test_a_new_profile_is_bounded_and_one_read_back_is_not() -> None:
    """A profile read back from the profiles topic (no clock) was accepted before: it stays in the index,
    the same from a snapshot or a replay; a new one past the bounds is refused."""
    profile = json.loads(profile_born("2011-05-04"))
    profile["associates"] = [{"name": words(11)}]
    profile["indicators"] = ["seen near a port"] * (PROFILE_MAX_ENTRIES + 1)
    raw = json.dumps(profile)
    assert len(parse_profile(raw).indicators) == PROFILE_MAX_ENTRIES + 1
    with pytest.raises(RejectedInput) as caught:
        parse_profile(raw, now=NOW)
    assert caught.value.reasons == [
        f"associates[0].name: a name of at most {MAX_NAME_WORDS} words, not 11",
        f"indicators: at most {PROFILE_MAX_ENTRIES} entries, not {PROFILE_MAX_ENTRIES + 1}",
    ]
