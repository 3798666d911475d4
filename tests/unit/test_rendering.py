"""Rendering: SMS segment arithmetic and fitting, SMS data-minimisation, email escaping."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.channels.sms import SMS_OPTIONAL, SmsRenderer
from alerts.config import PACKAGE_TEMPLATES
from alerts.intake import parse_event, parse_profile
from alerts.model import (
    Decision,
    Incident,
    IncidentStatus,
    MatchResult,
    NotificationKind,
    PlacementEvent,
    Priority,
    RiskProfile,
    TimelineEntry,
)
from alerts.rendering import MessageFacts, Renderer
from alerts.sms import SmsCost, shorten, sms_cost, to_gsm7
from tests.support import REPO

KINDS: list[NotificationKind] = ["alert", "possible_match", "escalation", "update", "stand_down"]
INPUT = REPO / "tests" / "golden" / "input"
NOW = datetime(2026, 7, 14, 20, 51, tzinfo=UTC)


# --- segment arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table costs two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "[" + "a" * 10, "GSM-7", 164, 2),  # an escape pair at 152-153 is not split…
        ("a" * 152 + "[" + "a" * 152, "GSM-7", 306, 3),  # …so it moves to segment two, which then overflows
        ("é£¥ÄÖÑÜäöñüà" * 2, "GSM-7", 24, 1),  # GSM-7's own accented letters
        ("ệ" * 70, "UCS-2", 70, 1),
        ("ệ" * 71, "UCS-2", 71, 2),
        ("ệ" * 134, "UCS-2", 134, 2),
        ("ệ" * 135, "UCS-2", 135, 3),
        ("a" * 66 + "😀", "UCS-2", 68, 1),  # a surrogate pair is two units
        ("a" * 66 + "😀" + "a" * 3, "UCS-2", 71, 2),  # and is not split at 66-67
        ("a" * 300 + "’", "UCS-2", 301, 5),  # one curly quote makes it all UCS-2
    ],
)
def test_sms_cost(text: str, encoding: str, units: int, segments: int) -> None:
    cost = sms_cost(text)
    assert (cost.encoding, cost.units, cost.segments) == (encoding, units, segments)


def test_gsm7_spelling_is_faithful_for_latin_diacritics_not_for_other_scripts() -> None:
    assert to_gsm7("Bến xe Mỹ Đình – “cổng”") == ('Ben xe My Dình - "cong"', True)  # ì is GSM-7
    assert to_gsm7("Café Élan ß") == ("Café Élan ß", True)  # already GSM-7
    spelled, faithful = to_gsm7("محطة")
    assert (spelled, faithful) == ("????", False)


def test_shorten_cuts_at_a_word_and_marks_it() -> None:
    assert shorten("Bus stop outside Rowan House, Station Road", 24) == "Bus stop outside..."
    assert shorten("short", 24) == "short"


# --- SMS ----------------------------------------------------------------------------------------------


def load_event(**circumstances: Any) -> PlacementEvent:
    data = json.loads((INPUT / "event.json").read_text())
    data["circumstances"].update(circumstances)
    return parse_event(json.dumps(data))


def load_profile() -> RiskProfile:
    return parse_profile((INPUT / "profiles.jsonl").read_text().splitlines()[0])


def make_incident(event: PlacementEvent, decision: Decision = Decision.MATCH) -> Incident:
    assert event.circumstances is not None
    last_seen = event.circumstances.last_seen_at
    return Incident(
        incident_id="inc-render",
        reference="CH-R3ND3R",
        status=IncidentStatus.OPEN,
        event_id=event.event_id,
        child_reference=event.child.reference,
        placement_id=event.placement.id,
        local_authority=event.placement.local_authority,
        match=MatchResult(decision=decision, profile_id="prof-golden-01", score=1.0, explanation=["matched on home_office"]),
        priority=Priority.HIGH,
        reasons=["profile risk level is high"],
        last_seen_at=last_seen,
        received_at=NOW,
        deadline=last_seen + timedelta(hours=1),
        timeline=[TimelineEntry(at=last_seen, what=f"last seen at {event.circumstances.last_seen_place}")],
    )


def facts(
    kind: NotificationKind = "alert", event: PlacementEvent | None = None, profile: RiskProfile | None = None
) -> MessageFacts:
    event = event or load_event()
    return MessageFacts(kind=kind, incident=make_incident(event), event=event, profile=profile or load_profile())


def renderer(ack_url: str | None = None, **sms: Any) -> Renderer:
    """The package's templates; `sms` overrides the SMS channel's settings (max_segments, include_full_name)."""
    return Renderer(PACKAGE_TEMPLATES, "Europe/London", ack=ack_url, channel_options={"sms": sms})


def sms_of(r: Renderer) -> SmsRenderer:
    sms = r.channel("sms")
    assert isinstance(sms, SmsRenderer)
    return sms


def fit_sms(r: Renderer, facts: MessageFacts) -> tuple[str, SmsCost]:
    return sms_of(r).fit(facts)


@pytest.mark.parametrize("kind", KINDS)
def test_sms_carries_the_minimum_and_never_the_name_by_default(kind: NotificationKind) -> None:
    text = renderer().render(facts(kind), "sms").text
    assert "CH-R3ND3R" in text
    for private in ("Thi Lan", "Phamtest", "Lana", "HAR-2026-0311", "HO-S7654321", "+447700900666", "Vietnamese"):
        assert private not in text
    assert "\n" not in text and "\r" not in text
    assert sms_cost(text).encoding == "GSM-7" and sms_cost(text).segments <= 3
    if kind != "stand_down":
        assert text.endswith("Reply ACK CH-R3ND3R")
        assert "+447700900402" in text  # the carer's callback number
        assert "21:35 BST Tue 14 Jul" in text  # last seen, on the London clock
    if kind in ("alert", "escalation", "possible_match"):
        assert "aged 16 (est.), female" in text


def test_the_full_name_only_when_configured() -> None:
    text = renderer(include_full_name=True).render(facts(), "sms").text
    assert "Thi Lan Phamtest" in text


def test_a_vietnamese_place_that_would_overflow_in_ucs2_is_spelled_in_gsm7() -> None:
    place = "Bến xe khách Mỹ Đình, cổng phía Nam, gần quầy bán vé số 3, đường Phạm Hùng, Nam Từ Liêm"
    event = load_event(last_seen_place=place)
    r = renderer()
    template = r.env.get_template("sms/alert.txt.j2")
    as_written = " ".join(template.render({**sms_of(r).context(facts(event=event))}).split())
    assert sms_cost(as_written).encoding == "UCS-2" and sms_cost(as_written).segments > 3  # would overflow
    text, cost = fit_sms(r, facts(event=event))
    assert cost.segments <= 3 and cost.encoding == "GSM-7"
    assert "Ben xe khach My Dình, cong phia Nam" in text
    assert "CH-R3ND3R:" in text and text.endswith("Reply ACK CH-R3ND3R")


def test_a_place_in_another_script_keeps_its_script_and_drops_optional_parts_first() -> None:
    place = "محطة الحافلات الرئيسية قرب البوابة الجنوبية"
    text, cost = fit_sms(renderer(), facts(event=load_event(last_seen_place=place)))
    assert cost.encoding == "UCS-2" and cost.segments <= 3
    assert place in text  # kept whole: the optional parts made room
    assert "matches a trafficking-risk profile" not in text  # "detail" dropped
    assert text.endswith("Reply ACK CH-R3ND3R")


def test_a_very_long_place_is_shortened_never_the_reference_or_the_ack() -> None:
    place = "Unit 4, the far end of the long service road behind the retail park " * 6
    text, cost = fit_sms(renderer(max_segments=2), facts(event=load_event(last_seen_place=place.strip())))
    assert cost.segments <= 2
    assert "..." in text and text.startswith("CRUCIAL HOUR HIGH RISK CH-R3ND3R:") and text.endswith("Reply ACK CH-R3ND3R")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_fits_one_segment_at_the_tightest_setting(kind: NotificationKind) -> None:
    place = "Phố Hàng Bạc, trước cửa hiệu vàng, cạnh ngã tư lớn nhất khu phố cổ, Hoàn Kiếm"
    text, cost = fit_sms(renderer(max_segments=1, include_full_name=True), facts(kind, event=load_event(last_seen_place=place)))
    assert cost.segments == 1, text
    assert "CH-R3ND3R" in text
    if kind != "stand_down":
        assert text.endswith("Reply ACK CH-R3ND3R")


def test_optional_parts_are_dropped_in_order() -> None:
    assert SMS_OPTIONAL[0] == "detail"
    long_place = "Platform 3, the bay nearest the ticket hall, under the big clock " * 2
    full = fit_sms(renderer(), facts(event=load_event(last_seen_place=long_place.strip())))[0]
    assert "Crucial hour ends" in full
    tighter = fit_sms(renderer(max_segments=2), facts(event=load_event(last_seen_place=long_place.strip())))[0]
    assert "matches a trafficking-risk profile" not in tighter


# --- email ----------------------------------------------------------------------------------------------

HOSTILE = "<script>alert('x')</script>\r\nBcc: victim@evil.example\r\n\r\n<b>"


def hostile_facts(kind: NotificationKind) -> MessageFacts:
    data = json.loads((INPUT / "event.json").read_text())
    data["child"]["given_names"] = HOSTILE
    data["child"]["family_name"] = "O'Brien & <Sons>"
    data["child"]["aliases"] = ["<img src=x onerror=alert(1)>"]
    data["circumstances"]["last_seen_place"] = 'Gate 2"><script>bad()</script>\nSubject: hijack'
    data["placement"]["name"] = "Home\r\nX-Injected: yes"
    return facts(kind, event=parse_event(json.dumps(data)))


@pytest.mark.parametrize("kind", KINDS)
def test_markup_and_line_breaks_in_names_cannot_break_the_html_or_the_headers(kind: NotificationKind) -> None:
    message = renderer().render(hostile_facts(kind), "email")
    assert message.html is not None
    assert "<script>" not in message.html and "<img" not in message.html and "<b>" not in message.html
    if kind != "stand_down":
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in message.html
        assert "O&#39;Brien &amp; &lt;Sons&gt;" in message.html
    assert "\r" not in message.subject and "\n" not in message.subject
    assert "script" not in message.subject and "Bcc" not in message.subject
    assert not re.search(r"^(Bcc|Subject|X-Injected):", message.text, flags=re.MULTILINE)
    sms = renderer(include_full_name=True).render(hostile_facts(kind), "sms").text
    assert "\r" not in sms and "\n" not in sms


@pytest.mark.parametrize("kind", KINDS)
def test_email_has_the_full_picture(kind: NotificationKind) -> None:
    message = renderer().render(facts(kind), "email")
    assert message.html is not None and message.text.endswith("\n")
    assert message.subject.startswith("[Crucial Hour] ") and message.subject.endswith(" - CH-R3ND3R")
    assert message.subject.isascii()
    if kind == "stand_down":
        assert "No further action is needed on CH-R3ND3R" in message.text
        return
    for part in (message.text, message.html):
        assert "Thi Lan Phamtest" in part  # email carries the name (to allow-listed secure domains)
        assert "Small build, about 150 cm" in part  # description
        assert "matched on home_office" in part  # match explanation
        assert "Red hoodie" in part and "coach station" in part  # circumstances
        assert "21:35 BST on Tuesday 14 July 2026" in part  # last seen, London time
        assert "22:35 BST on Tuesday 14 July 2026" in part  # deadline, London time
        assert "ACK CH-R3ND3R" in part  # how to acknowledge
        assert "sexual exploitation" in part and "Victoria Coach Station" in part  # the profile
        assert "last seen at Bus stop" in part  # the timeline


def test_the_acknowledgement_link_when_configured() -> None:
    message = renderer(ack_url="https://crucial.example/ack/{reference}").render(facts(), "email")
    assert message.html is not None and '<a href="https://crucial.example/ack/CH-R3ND3R">' in message.html
    assert "open https://crucial.example/ack/CH-R3ND3R" in message.text


def test_an_update_without_circumstances_and_a_child_without_a_profile_still_render() -> None:
    data = json.loads((INPUT / "event.json").read_text())
    base = parse_event(json.dumps(data))
    data.update(type="update", event_id="evt-golden-0002")
    data.pop("circumstances")
    update = parse_event(json.dumps(data))
    incident = make_incident(base)
    for kind in KINDS:
        for channel in ("sms", "email"):
            message = renderer().render(MessageFacts(kind=kind, incident=incident, event=update, profile=None), channel)
            assert "CH-R3ND3R" in message.text


# --- properties ---------------------------------------------------------------------------------------


@given(st.text(alphabet="abc XYZ012.,", min_size=161, max_size=2000))
def test_plain_gsm_text_costs_ceil_of_153(text: str) -> None:
    assert sms_cost(text).segments == -(-len(text) // 153)


@settings(max_examples=60, deadline=None)
@given(
    place=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=300).filter(
        lambda s: s.strip()
    ),
    kind=st.sampled_from(KINDS),
    max_segments=st.integers(min_value=1, max_value=4),
)
def test_any_place_fits_and_keeps_the_reference_and_the_ack(place: str, kind: NotificationKind, max_segments: int) -> None:
    text, cost = fit_sms(renderer(max_segments=max_segments), facts(kind, event=load_event(last_seen_place=place)))
    assert cost.segments <= max_segments and cost == sms_cost(text)
    assert "\n" not in text and "\r" not in text
    assert "CH-R3ND3R" in text
    if kind != "stand_down":
        assert text.endswith("Reply ACK CH-R3ND3R")


# --- issue 17: the age on the local date; decomposed Unicode ------------------------------------------


def test_the_sms_age_is_on_the_london_date_of_last_seen() -> None:
    # 00:30 BST on 15 June 2027 is 23:30 UTC on 14 June: her 13th birthday in London.
    data = json.loads((INPUT / "event.json").read_text())
    data["child"]["date_of_birth"] = {"value": "2014-06-15"}
    data["circumstances"]["last_seen_at"] = data["occurred_at"] = "2027-06-14T23:30:00Z"
    data["reported_at"] = "2027-06-14T23:40:00Z"
    event = parse_event(json.dumps(data))
    text = renderer().render(facts("alert", event=event), "sms").text
    assert "aged 13, female" in text
    email = renderer().render(facts("alert", event=event), "email").text
    assert "Age: 13;" in email


@pytest.mark.parametrize("kind", ["alert", "escalation", "possible_match"])
def test_decomposed_vietnamese_is_normalised_before_encoding_and_keeps_the_deadline(kind: NotificationKind) -> None:
    import unicodedata

    place = "Bến xe Mỹ Đình, cổng phía Nam"
    composed = fit_sms(renderer(), facts(kind, event=load_event(last_seen_place=unicodedata.normalize("NFC", place))))
    decomposed = fit_sms(renderer(), facts(kind, event=load_event(last_seen_place=unicodedata.normalize("NFD", place))))
    assert decomposed == composed, "NFD and NFC of the same text are the same message"
    text, cost = decomposed
    assert unicodedata.is_normalized("NFC", text)
    assert cost.segments <= 3 and "Crucial hour ends" in text, "the deadline is kept"
    assert "?" not in text
