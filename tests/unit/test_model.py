from __future__ import annotations

import json
from datetime import date
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


def test_impossible_and_future_dates_of_birth_are_rejected() -> None:
    event = make_event()
    event["child"]["date_of_birth"] = {"value": "2009-02-30"}
    assert reasons(event)[0].startswith("child.date_of_birth.value: Input should be a valid date")
    event["child"]["date_of_birth"] = {"value": date.today().replace(year=date.today().year + 1).isoformat()}
    assert "is in the future" in reasons(event)[0]


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
