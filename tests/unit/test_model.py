from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.errors import RejectedInput
from alerts.intake import parse_event, parse_profile
from tests.support import make_event, sample_profiles


def reasons(payload: object) -> list[str]:
    with pytest.raises(RejectedInput) as caught:
        parse_event(json.dumps(payload) if not isinstance(payload, bytes) else payload)
    return caught.value.reasons


def test_sample_event_and_profiles_are_valid() -> None:
    event = parse_event(json.dumps(make_event()))
    assert event.type == "left_placement"
    assert event.circumstances is not None and event.circumstances.last_seen_at.tzinfo is not None
    assert [parse_profile(json.dumps(p)).profile_id for p in sample_profiles()] == ["prof-0001", "prof-0002"]


def test_naive_datetime_is_rejected_with_its_path() -> None:
    event = make_event()
    event["reported_at"] = "2026-11-28T22:55:00"
    assert reasons(event) == ["reported_at: Input should have timezone info"]


def test_impossible_dates_of_birth_are_rejected() -> None:
    # Dates in the future or too long ago are intake's to refuse, against its clock (test_intake_bounds.py).
    event = make_event()
    event["child"]["date_of_birth"] = {"value": "2009-02-30"}
    assert reasons(event)[0].startswith("child.date_of_birth.value: Input should be a valid date")


def test_disputed_range_must_contain_the_best_estimate() -> None:
    event = make_event()
    event["child"]["date_of_birth"] = {"value": "2010-01-01", "estimated": True, "earliest": "2010-06-01"}
    assert reasons(event) == ["child.date_of_birth: value must lie between earliest and latest"]


def test_strict_types_refuse_coercion_and_unknown_fields() -> None:
    event = make_event()
    event["circumstances"]["previous_missing_episodes"] = "2"
    event["child"]["favourite_colour"] = "blue"
    assert set(reasons(event)) == {
        "circumstances.previous_missing_episodes: Input should be a valid integer",
        "child.favourite_colour: Extra inputs are not permitted",
    }


def test_left_placement_needs_circumstances_but_returned_does_not() -> None:
    event = make_event()
    del event["circumstances"]
    assert reasons(event) == ["(root): circumstances are required when type is 'left_placement'"]
    assert parse_event(json.dumps(make_event(type="returned"))).type == "returned"


def test_unknown_type_and_not_json_and_not_utf8() -> None:
    event = make_event()
    event["type"] = "abducted"
    assert reasons(event) == ["type: Input should be 'left_placement', 'returned' or 'update'"]
    assert reasons(b"{oops")[0].startswith("(root): not JSON")
    assert reasons(b"\xff")[0].startswith("(root): not UTF-8")


def test_profile_with_unknown_risk_level_or_no_name_is_rejected() -> None:
    profile = sample_profiles()[0] | {"risk_level": "extreme"}
    with pytest.raises(RejectedInput) as caught:
        parse_profile(json.dumps(profile))
    assert caught.value.reasons == ["risk_level: Input should be 'high', 'medium' or 'low'"]
    nameless = sample_profiles()[0] | {"given_names": "  "}
    with pytest.raises(RejectedInput) as caught:
        parse_profile(json.dumps(nameless))
    assert caught.value.reasons[0].startswith("given_names: String should have at least 1 character")


def test_kraft_cluster_ids_never_look_like_an_option() -> None:
    from streams.pipeline.broker import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]  # about 1 in 64 raw candidates start with "-"
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_the_committed_json_schemas_are_the_models(tmp_path: Path) -> None:
    from streams.cli.main import main
    from tests.support import REPO

    assert main(["schema", "--out", str(tmp_path)]) == 0
    for generated in tmp_path.iterdir():
        committed = REPO / "schemas" / generated.name
        assert committed.exists() and committed.read_text() == generated.read_text(), (
            f"run `crucial schema`: {generated.name} is stale"
        )


# --- incident commands: one kind each, `command` the discriminator ---------------------------------

COMMAND_BASE = {"incident_id": "inc-1", "child_reference": "HAR-2026-0192", "at": "2026-11-28T23:00:00Z"}
OFFICER_JSON = {"agency_id": "met-police-mispers", "name": "MISPER on-call officer", "address": "+447700900101"}
# What each kind carried when IncidentCommand was one model with every field optional.
OLD_FIELDS = dict.fromkeys(("by", "via", "step", "channel", "kind", "reason", "claim_id"))


def _old(command: str, **fields: object) -> str:
    return json.dumps({"command": command, **COMMAND_BASE, **OLD_FIELDS, **fields})


def test_each_command_kind_decodes_to_its_own_class_and_round_trips() -> None:
    from datetime import UTC, datetime

    from alerts.model import Acknowledge, Breach, ConfirmClaim, Escalate, FallBack, IncidentCommands, Recipient

    at, officer = datetime(2026, 11, 28, 23, 0, tzinfo=UTC), Recipient(**OFFICER_JSON)
    base = {"incident_id": "inc-1", "child_reference": "HAR-2026-0192", "at": at}
    commands = [
        Acknowledge(**base, by=officer, via="sms"),  # type: ignore[arg-type]
        Escalate(**base, step=2),  # type: ignore[arg-type]
        Breach(**base),  # type: ignore[arg-type]
        FallBack(**base, by=officer, channel="sms", kind="alert", reason="invalid_number"),  # type: ignore[arg-type]
        ConfirmClaim(**base, claim_id="c0ffee00", by=officer, via="board"),  # type: ignore[arg-type]
    ]
    for command in commands:
        decoded = IncidentCommands.decode(command.model_dump_json())
        assert type(decoded) is type(command) and decoded == command


@pytest.mark.parametrize(
    ("old", "kind", "field", "value"),
    [
        (_old("acknowledge", by=OFFICER_JSON, via="link"), "Acknowledge", "via", "link"),
        (_old("escalate", step=3), "Escalate", "step", 3),
        (_old("breach"), "Breach", "command", "breach"),
        (
            _old("fall_back", by=OFFICER_JSON, channel="sms", kind="alert", reason="unreachable"),
            "FallBack",
            "reason",
            "unreachable",
        ),
        (_old("confirm_claim", by=OFFICER_JSON, via="sms", claim_id="c0ffee00"), "ConfirmClaim", "claim_id", "c0ffee00"),
    ],
)
def test_records_in_the_old_layout_still_decode(old: str, kind: str, field: str, value: object) -> None:
    """The incident-commands topic is kept forever: records written by the one-model layout (every
    field present, unused ones null) must still be read after an upgrade."""
    from alerts.model import IncidentCommands

    decoded = IncidentCommands.decode(old)
    assert type(decoded).__name__ == kind and getattr(decoded, field) == value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_old("acknowledge", by=OFFICER_JSON), "acknowledge.via"),  # the old model let this through, to be ignored
        (_old("escalate"), "escalate.step"),
        (json.dumps({"command": "breach", **COMMAND_BASE, "step": 3}), "breach.step: Extra inputs are not permitted"),
        (json.dumps({"command": "promote", **COMMAND_BASE}), "does not match any of the expected tags"),
    ],
)
def test_a_command_without_its_kinds_fields_or_with_anothers_is_refused(raw: str, reason: str) -> None:
    from pydantic import ValidationError

    from alerts.model import IncidentCommands

    with pytest.raises(ValidationError) as caught:
        IncidentCommands.decode(raw)
    assert reason in str(caught.value).replace("\n  ", ": ")
