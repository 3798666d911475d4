"""Identity matching: each test would fail if the path it names broke. Synthetic children only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.config import Risk, load_config
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.matching.scoring import _Scorer
from alerts.model import Decision, MatchResult, PlacementEvent, RiskProfile
from tests.support import REPO

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def risk() -> Risk:
    return load_config(REPO / "config").risk


def profile(profile_id: str, given: str, family: str | None, **extra: Any) -> RiskProfile:
    data: dict[str, Any] = {
        "profile_id": profile_id,
        "given_names": given,
        "risk_level": "high",
        "responsible_local_authority": "Harrow",
        "police_force": "Metropolitan Police Service",
        **extra,
    }
    if family is not None:
        data["family_name"] = family
    return parse_profile(json.dumps(data))


def report(given: str, family: str | None = None, *, event_id: str = "evt-t-1", **extra: Any) -> PlacementEvent:
    circumstances = extra.pop("circumstances", {})
    child: dict[str, Any] = {"reference": extra.pop("reference", "HAR-NEW-0001"), "given_names": given, **extra}
    if family is not None:
        child["family_name"] = family
    seen = NOW - timedelta(minutes=20)
    return parse_event(
        json.dumps(
            {
                "event_id": event_id,
                "type": "left_placement",
                "occurred_at": seen.isoformat(),
                "reported_at": NOW.isoformat(),
                "placement": {"id": "plc-1", "name": "Larchwood", "local_authority": "Harrow", "postcode": "HA1 9ZZ"},
                "child": child,
                "circumstances": {"last_seen_at": seen.isoformat(), "last_seen_place": "front gate", **circumstances},
                "reporter": {"name": "Night carer", "role": "care worker", "callback_phone": "+447700900401"},
            }
        )
    )


def index_of(*profiles: RiskProfile, risk: Risk | None = None) -> ProfileIndex:
    index = ProfileIndex(risk.matching if risk else None, risk.links if risk else None)
    for p in profiles:
        index.upsert(p)
    return index


def match(index: ProfileIndex, event: PlacementEvent, risk: Risk) -> MatchResult:
    return index.match(event, risk.matching, risk.links)


# Distractors every test index carries, so a match is never just "the only profile there is".
CROWD = [
    profile("crowd-1", "Ardit", "Hoxha", sex="male", nationality="Albanian", date_of_birth={"value": "2010-05-05"}),
    profile("crowd-2", "Senait", "Tesfay", sex="female", nationality="Eritrean", date_of_birth={"value": "2011-02-02"}),
    profile("crowd-3", "Omar", "Hassan", sex="male", nationality="Sudanese", date_of_birth={"value": "2009-09-09"}),
    profile(
        "crowd-4",
        "Thi Lan",
        "Pham",
        sex="female",
        nationality="Vietnamese",
        date_of_birth={"value": "2012-01-01", "estimated": True},
    ),
    profile("crowd-5", "Jack", "Smith", sex="male", nationality="British", date_of_birth={"value": "2010-10-10"}),
]

MOHAMMED = profile(
    "prof-sd-1",
    "Mohammed Ali",
    "Osman",
    aliases=["Mohamed A."],
    date_of_birth={"value": "2009-06-01", "estimated": True, "earliest": "2008-09-01", "latest": "2010-03-31"},
    sex="male",
    nationality="Sudanese",
)
NGUYEN = profile(
    "prof-vn-1",
    "Thị Hoa",
    "Nguyễn",
    date_of_birth={"value": "2010-03-14"},
    sex="female",
    nationality="Vietnamese",
    vehicles=["white Ford Transit LR19 XKP"],
    phone_numbers=["+447700900555"],
    associates=[{"name": "Van Long", "relationship": "claims to be uncle"}],
)


def test_a_transliterated_alias_with_a_disputed_date_of_birth_is_found(risk: Risk) -> None:
    index = index_of(MOHAMMED, *CROWD, risk=risk)
    found = match(index, report("Muhamed A.", date_of_birth={"value": "2009-01-01", "estimated": True}, sex="male"), risk)
    assert found.decision in (Decision.MATCH, Decision.POSSIBLE_MATCH)
    assert found.profile_id == "prof-sd-1"
    assert found.explanation[0].startswith("possibly matched profile prof-sd-1") or found.decision == Decision.MATCH
    assert "on alias 'Mohamed A.' (reported as 'Muhamed A.')" in found.explanation[0]
    assert "date of birth 2009 (estimated), consistent with the profile's 2009-06-01 (disputed" in found.explanation[0]


def test_a_first_name_and_an_initial_is_never_a_full_match(risk: Risk) -> None:
    index = index_of(MOHAMMED, *CROWD, risk=risk)
    exact = report(
        "Mohamed A.",
        date_of_birth={"value": "2009-06-01", "estimated": True, "earliest": "2008-09-01", "latest": "2010-03-31"},
        sex="male",
        nationality="Sudanese",
    )
    assert match(index, exact, risk).decision == Decision.POSSIBLE_MATCH


def test_diacritics_are_folded_and_the_full_name_with_the_date_of_birth_matches(risk: Risk) -> None:
    index = index_of(NGUYEN, *CROWD, risk=risk)
    found = match(
        index, report("Thi Hoa", "Nguyen", date_of_birth={"value": "2010-03-14"}, sex="female", nationality="Viet Nam"), risk
    )
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-vn-1")
    # the same name but for diacritics: not even "reported as"
    headline = f"matched profile prof-vn-1 (score {found.score:.2f}): on name 'Thị Hoa Nguyễn', date of birth 2010-03-14"
    assert found.explanation[0] == headline


def test_given_and_family_names_swapped_still_match(risk: Risk) -> None:
    index = index_of(NGUYEN, *CROWD, risk=risk)
    found = match(index, report("Nguyen", "Thi Hoa", date_of_birth={"value": "2010-03-14"}, sex="female"), risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-vn-1")
    assert any("word order differs" in line for line in found.explanation)


def test_spelling_variants_of_one_name_meet(risk: Risk) -> None:
    index = index_of(MOHAMMED, *CROWD, risk=risk)
    found = match(
        index,
        report(
            "Muhammad Aly", "Usman", date_of_birth={"value": "2009-01-01", "estimated": True}, sex="male", nationality="Sudan"
        ),
        risk,
    )
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-sd-1")
    assert any("'muhammad' ~ 'mohammed'" in line for line in found.explanation)


def test_a_sibling_is_not_matched(risk: Risk) -> None:
    """Same family name, nationality and household; a different given name, born two years later."""
    index = index_of(NGUYEN, *CROWD, risk=risk)
    sibling = report("Thi Mai", "Nguyen", date_of_birth={"value": "2012-07-01"}, sex="female", nationality="Vietnamese")
    assert match(index, sibling, risk).decision == Decision.NO_MATCH


def test_a_namesake_born_years_apart_is_not_matched(risk: Risk) -> None:
    index = index_of(NGUYEN, *CROWD, risk=risk)
    namesake = report("Thi Hoa", "Nguyen", date_of_birth={"value": "2014-02-20"}, sex="female", nationality="Vietnamese")
    found = match(index, namesake, risk)
    assert found.decision == Decision.NO_MATCH


def test_a_shared_date_of_birth_alone_is_not_a_match(risk: Risk) -> None:
    index = index_of(NGUYEN, *CROWD, risk=risk)
    stranger = report("Linh", "Tran", date_of_birth={"value": "2010-03-14"}, sex="female", nationality="Vietnamese")
    assert match(index, stranger, risk).decision == Decision.NO_MATCH


def test_two_profiles_equally_close_make_the_match_only_possible(risk: Risk) -> None:
    twin_a = profile(
        "prof-a", "Ardit", "Kola", sex="male", nationality="Albanian", date_of_birth={"value": "2011-01-01", "estimated": True}
    )
    twin_b = profile(
        "prof-b", "Ardit", "Kola", sex="male", nationality="Albanian", date_of_birth={"value": "2011-01-01", "estimated": True}
    )
    index = index_of(twin_a, twin_b, *CROWD, risk=risk)
    found = match(
        index,
        report("Ardit", "Kola", date_of_birth={"value": "2011-01-01", "estimated": True}, sex="male", nationality="Albanian"),
        risk,
    )
    assert found.decision == Decision.POSSIBLE_MATCH
    assert {found.profile_id, *found.alternatives} == {"prof-a", "prof-b"}
    # The officer is told why: not "almost as close" but the very same recorded name and date.
    assert any(line.startswith("two profiles share this name and date of birth (prof-") for line in found.explanation)


def test_a_shared_identifier_matches_despite_a_new_placement_reference(risk: Risk) -> None:
    flagged = profile("prof-ho", "Elira", "Hoxha", identifiers=[{"scheme": "home_office", "value": "HO-S1234567"}], sex="female")
    index = index_of(flagged, *CROWD, risk=risk)
    found = match(
        index,
        report("Ela", "Gashi", reference="BRE-NEW-1", identifiers=[{"scheme": "home_office", "value": "ho-s1234567"}]),
        risk,
    )
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-ho")
    assert "shared identifier home_office ho-s1234567" in found.explanation


def test_a_different_home_office_reference_counts_against(risk: Risk) -> None:
    flagged = profile(
        "prof-ho",
        "Elira",
        "Hoxha",
        identifiers=[{"scheme": "home_office", "value": "HO-S1234567"}],
        sex="female",
        nationality="Albanian",
        date_of_birth={"value": "2010-04-04"},
    )
    index = index_of(flagged, *CROWD, risk=risk)
    same = report("Elira", "Hoxha", sex="female", nationality="Albanian", date_of_birth={"value": "2010-04-04"})
    other = report(
        "Elira",
        "Hoxha",
        sex="female",
        nationality="Albanian",
        date_of_birth={"value": "2010-04-04"},
        identifiers=[{"scheme": "home_office", "value": "HO-X7654321"}],
    )
    with_id, without = match(index, other, risk), match(index, same, risk)
    assert with_id.score < without.score
    assert any("a different home_office identifier" in line for line in with_id.explanation)


def test_tombstone_removes_the_profile_and_every_key(risk: Risk) -> None:
    index = index_of(NGUYEN, risk=risk)
    event = report("Thi Hoa", "Nguyen", date_of_birth={"value": "2010-03-14"}, sex="female")
    assert match(index, event, risk).profile_id == "prof-vn-1"
    index.remove("prof-vn-1")
    assert len(index) == 0 and index.get("prof-vn-1") is None
    assert match(index, event, risk).decision == Decision.NO_MATCH
    assert index._postings == {}, "a removed profile left blocking keys behind"
    index.remove("prof-vn-1")  # a second tombstone is harmless


def test_an_update_replaces_the_old_version(risk: Risk) -> None:
    index = index_of(NGUYEN, *CROWD, risk=risk)
    renamed = NGUYEN.model_copy(update={"given_names": "Thi Lan", "family_name": "Tran", "vehicles": [], "phone_numbers": []})
    index.upsert(renamed)
    assert len(index) == len(CROWD) + 1
    assert (
        match(index, report("Thi Hoa", "Nguyen", date_of_birth={"value": "2010-03-14"}, sex="female"), risk).decision
        == Decision.NO_MATCH
    )
    assert (
        match(index, report("Thi Lan", "Tran", date_of_birth={"value": "2010-03-14"}, sex="female"), risk).profile_id
        == "prof-vn-1"
    )
    assert index.get("prof-vn-1") == renamed


@pytest.mark.parametrize(
    ("circumstances", "kind"),
    [
        ({"vehicles": ["silver car, registration lr19xkp"]}, "vehicle"),
        ({"phone_numbers": ["07700 900555"]}, "phone"),
        ({"accompanied_by": ["a man called Van Long"]}, "associate"),
        ({"notes": "she was picked up by Long Van in a car"}, "associate"),
    ],
)
def test_circumstantial_links_to_a_profile_for_a_child_without_one(risk: Risk, circumstances: dict[str, Any], kind: str) -> None:
    index = index_of(NGUYEN, *CROWD, risk=risk)
    stranger = report(
        "Kai", "Walker", sex="male", nationality="British", date_of_birth={"value": "2012-05-01"}, circumstances=circumstances
    )
    found = match(index, stranger, risk)
    assert found.decision == Decision.NO_MATCH and found.profile_id is None
    assert [(link.profile_id, link.kind, link.risk_level.value) for link in found.links] == [("prof-vn-1", kind, "high")]
    assert found.explanation == [found.links[0].detail]


def test_no_link_from_generic_companions_or_a_lone_first_name(risk: Risk) -> None:
    index = index_of(profile("prof-x", "Ardit", "Kola", associates=[{"name": "Unknown male"}, {"name": "Tuan"}]), risk=risk)
    for companion in ("unknown adult male", "Tuan", "an older man, possibly called Tuan"):
        assert match(index, report("Kai", "Walker", circumstances={"accompanied_by": [companion]}), risk).links == []


def test_candidates_come_from_blocking_never_from_every_profile(risk: Risk, monkeypatch: pytest.MonkeyPatch) -> None:
    crowd = [
        profile(
            f"crowd-{i}",
            given,
            "Smith",
            sex="male",
            nationality="British",
            date_of_birth={"value": f"20{10 + i % 5}-0{1 + i % 9}-1{i % 9}"},
        )
        for i, given in enumerate(["Jack", "Oliver", "Harry", "Leo", "Kyle", "Liam", "Mason", "Riley", "Owen", "Logan"] * 30)
    ]
    index = index_of(NGUYEN, *crowd, risk=risk)
    scored: list[int] = []
    original = _Scorer.score

    def counted(self: _Scorer, slot: int, *a: Any) -> Any:
        scored.append(slot)
        return original(self, slot, *a)

    monkeypatch.setattr(_Scorer, "score", counted)
    found = match(index, report("Thi Hoa", "Nguyen", date_of_birth={"value": "2010-03-14"}, sex="female"), risk)
    assert found.profile_id == "prof-vn-1"
    assert len(scored) <= risk.matching.blocking.max_candidates < len(index)


def test_a_report_with_no_usable_name_matches_nothing_but_still_links(risk: Risk) -> None:
    index = index_of(NGUYEN, risk=risk)
    found = match(index, report("?", circumstances={"phone_numbers": ["+44 7700 900555"]}), risk)
    assert found.decision == Decision.NO_MATCH
    assert [link.kind for link in found.links] == ["phone"]


def test_the_default_matching_settings_are_the_shipped_ones(risk: Risk) -> None:
    from alerts.config import Links, Matching

    assert Matching() == risk.matching, "alerts.config Matching defaults drifted from config/risk.yaml"
    assert Links() == risk.links


# --- a crowd of namesakes: more profiles share the name and year of birth than are scored ---------

HO_REF = {"scheme": "home_office", "value": "HO-S7000001"}


def namesake_crowd(risk: Risk, *, held_by: RiskProfile, first: bool) -> ProfileIndex:
    """`held_by` among cap + 10 profiles of the same name, sex and year of birth (other nationalities,
    born on other days), so name blocking ties and some of them go unscored."""
    crowd = [
        profile(
            f"crowd-{i:02d}",
            "Thi Hoa Linh",
            "Nguyen",
            sex="female",
            nationality="Chinese" if i % 2 else "Cambodian",
            date_of_birth={"value": f"2012-{1 + i % 12:02d}-{1 + i % 28:02d}"},
        )
        for i in range(risk.matching.blocking.max_candidates + 10)
    ]
    return index_of(*([held_by, *crowd] if first else [*crowd, held_by]), risk=risk)


def held_by(**extra: Any) -> RiskProfile:
    fields: dict[str, Any] = {
        "sex": "female",
        "nationality": "Vietnamese",
        "date_of_birth": {"value": "2012-01-01", "estimated": True},
        "identifiers": [HO_REF],
    }
    return profile("prof-held", "Thi Hoa Linh", "Nguyen", **(fields | extra))


def crowd_report(**extra: Any) -> PlacementEvent:
    fields: dict[str, Any] = {
        "sex": "female",
        "nationality": "Vietnamese",
        "date_of_birth": {"value": "2012-01-01", "estimated": True},
    }
    return report("Thi Hoa Linh", "Nguyen", **(fields | extra))


@pytest.mark.parametrize("first", [True, False], ids=["blocked-with-the-crowd", "not-blocked"])
def test_a_home_office_reference_only_one_profile_holds_is_a_match_however_many_namesakes(risk: Risk, first: bool) -> None:
    index = namesake_crowd(risk, held_by=held_by(), first=first)
    found = match(index, crowd_report(identifiers=[HO_REF]), risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-held")
    assert not any("share as much of this name" in line for line in found.explanation)


def test_without_the_identifier_the_crowd_still_makes_the_same_report_only_possible(risk: Risk) -> None:
    index = namesake_crowd(risk, held_by=held_by(), first=True)
    found = match(index, crowd_report(), risk)
    assert (found.decision, found.profile_id) == (Decision.POSSIBLE_MATCH, "prof-held")
    assert any("share as much of this name and year of birth than were compared" in line for line in found.explanation)
    # Alone, the same report is a match: it is the crowd that demotes it.
    assert match(index_of(held_by(), risk=risk), crowd_report(), risk).decision == Decision.MATCH


@pytest.mark.parametrize(
    ("recorded", "conflict"),
    [
        ({"date_of_birth": {"value": "2012-01-01"}}, {"date_of_birth": {"value": "2012-11-30"}}),
        ({"date_of_birth": {"value": "2012-01-01"}}, {"date_of_birth": {"value": "2012-11-30"}, "nationality": "Chinese"}),
        (
            {"identifiers": [HO_REF, {"scheme": "nrm", "value": "NRM-S111"}]},
            {"identifiers": [HO_REF, {"scheme": "nrm", "value": "NRM-S999"}]},
        ),
    ],
    ids=["dob", "dob-and-nationality", "another-nrm-reference"],
)
def test_an_identifier_match_with_evidence_against_is_decided_in_a_crowd_as_it_is_alone(
    risk: Risk, recorded: dict[str, Any], conflict: dict[str, Any]
) -> None:
    flagged = held_by(**recorded)
    event = crowd_report(**({"identifiers": [HO_REF]} | conflict))
    alone = match(index_of(flagged, risk=risk), event, risk)
    in_crowd = match(namesake_crowd(risk, held_by=flagged, first=True), event, risk)
    assert alone.profile_id == in_crowd.profile_id == "prof-held"
    assert (in_crowd.decision, in_crowd.score) == (alone.decision, alone.score)
    assert any(line.startswith("against: ") for line in in_crowd.explanation)


def test_a_home_office_reference_two_profiles_hold_is_for_a_person_to_confirm(risk: Risk) -> None:
    other = held_by().model_copy(update={"profile_id": "prof-held-2", "date_of_birth": None})
    index = namesake_crowd(risk, held_by=held_by(), first=True)
    index.upsert(other)
    found = match(index, crowd_report(identifiers=[HO_REF]), risk)
    assert found.decision == Decision.POSSIBLE_MATCH


# --- given names alone --------------------------------------------------------------------------

CALLUM: dict[str, Any] = {"sex": "male", "nationality": "British", "date_of_birth": {"value": "2011-03-12"}}


def test_given_names_with_a_family_name_the_profile_does_not_have_are_only_possible(risk: Risk) -> None:
    index = index_of(profile("prof-ct", "Callum Tyler", "Johnson", **CALLUM), risk=risk)
    found = match(index, report("Callum Tyler", "Pellquildun", **CALLUM), risk)
    assert (found.decision, found.profile_id) == (Decision.POSSIBLE_MATCH, "prof-ct")
    assert "the reported family name 'Pellquildun' is not on the profile: a person must confirm" in found.explanation


@pytest.mark.parametrize(
    ("recorded", "reported"),
    [
        (("Callum", "Johnson"), ("Callum Tyler", "Johnson")),  # a middle name the profile lacks
        (("Callum Tyler", None), ("Callum Tyler", "Johnson")),  # no family name on the profile
        (("Callum Tyler", "Johnson"), ("Johnson", "Callum Tyler")),  # given and family names swapped
    ],
    ids=["extra-middle-name", "profile-without-family-name", "swapped"],
)
def test_a_family_name_that_pairs_or_has_nothing_to_differ_from_still_matches(
    risk: Risk, recorded: tuple[str, str | None], reported: tuple[str, str]
) -> None:
    index = index_of(profile("prof-ct", *recorded, **CALLUM), risk=risk)
    found = match(index, report(*reported, **CALLUM), risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-ct")


def test_a_shared_identifier_matches_whatever_family_name_is_reported(risk: Risk) -> None:
    index = index_of(profile("prof-ct", "Callum Tyler", "Johnson", identifiers=[HO_REF], **CALLUM), risk=risk)
    found = match(index, report("Callum Tyler", "Pellquildun", identifiers=[HO_REF], **CALLUM), risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-ct")


# --- issue 13: classes of cause among a crowd of namesakes -----------------------------------------

VN: dict[str, Any] = {"sex": "male", "nationality": "Vietnamese", "date_of_birth": {"value": "2011-05-05"}}
UK = {"sex": "female", "nationality": "British", "date_of_birth": {"value": "2012-07-14"}}
NG = {"sex": "male", "nationality": "Nigerian", "date_of_birth": {"value": "2010-02-20"}}


@pytest.mark.parametrize(
    ("recorded", "reported", "extra"),
    [
        (("Jessica", "Smith"), ("Jess", "Smith"), UK),  # a diminutive
        (("Oluwaseun", "Okafor"), ("Seun", "Okafor"), NG),  # a prefixed Yoruba name's short form
        (("Oluwaseun", "Okafor"), ("Oluwa Seun", "Okafor"), NG),  # the prefix written apart
        (("Chukwuemeka", "Eze"), ("Emeka", "Eze"), NG),  # Igbo
        (("Thanh Tùng", "Nguyễn"), ("Thanhtung", "Nguyen"), VN),  # a multi-word given name written as one
        (("Jessica", "Smith"), ("Jes\u200bsica", "Sm\u00adith"), UK),  # invisible characters
    ],
)
def test_a_name_written_another_way_is_found_as_the_same_child(
    risk: Risk, recorded: tuple[str, str], reported: tuple[str, str], extra: dict[str, Any]
) -> None:
    index = index_of(profile("prof-x", *recorded, **extra), *CROWD, risk=risk)
    found = match(index, report(*reported, **extra), risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-x")


def test_a_phone_written_with_a_bracketed_trunk_zero_links_to_the_profile(risk: Risk) -> None:
    index = index_of(profile("prof-ph", "Ardit", "Leka", phone_numbers=["07700 900555"]), *CROWD, risk=risk)
    found = match(index, report("Kujtim", "Dervishi", circumstances={"phone_numbers": ["+44 (0)7700 900555"]}), risk)
    assert [link.profile_id for link in found.links] == ["prof-ph"]


def test_a_shared_home_office_reference_is_not_outweighed_by_extra_names(risk: Risk) -> None:
    holder = profile("prof-ho", "Ardit", "Hoxha", sex="male", nationality="Albanian", identifiers=[HO_REF])
    index = index_of(holder, *CROWD, risk=risk)
    event = report("Besnik Klajdi Endrit Dritan", "Leka", sex="male", nationality="Albanian", identifiers=[HO_REF])
    found = match(index, event, risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-ho")


LA_REF = {"scheme": "la_reference", "value": "HAR-2024-0777"}


def test_a_local_authority_reference_among_many_namesakes_is_not_demoted(risk: Risk) -> None:
    dob = {"value": "2011-01-01", "estimated": True}
    namesakes = [
        profile(f"prof-ns-{i:03d}", "Ardit", "Hoxha", sex="male", nationality="Albanian", date_of_birth=dob) for i in range(80)
    ]
    holder = profile("prof-la", "Ardit", "Hoxha", sex="male", nationality="Albanian", date_of_birth=dob, identifiers=[LA_REF])
    index = index_of(*namesakes, holder, *CROWD, risk=risk)
    event = report("Ardit", "Hoxha", sex="male", nationality="Albanian", date_of_birth=dob, identifiers=[LA_REF])
    found = match(index, event, risk)
    assert (found.decision, found.profile_id) == (Decision.MATCH, "prof-la")


def test_a_phone_link_is_not_overridden_by_a_possible_identity_match_on_another_profile(risk: Risk) -> None:
    linked = profile("prof-link", "Ardit", "Leka", sex="male", phone_numbers=["+447700900555"])
    other = profile("prof-other", "Arben", "Kola", sex="male", nationality="Albanian", date_of_birth={"value": "2011-03-03"})
    index = index_of(linked, other, *CROWD, risk=risk)
    event = report(
        "Arben K.",
        sex="male",
        nationality="Albanian",
        date_of_birth={"value": "2011-03-03"},
        circumstances={"phone_numbers": ["07700 900555"]},
    )
    found = match(index, event, risk)
    assert found.profile_id != "prof-other"
    assert "prof-other" in found.alternatives
    assert [link.profile_id for link in found.links] == ["prof-link"]
    assert any("link it to profile prof-link" in line for line in found.explanation)


def test_a_typo_in_the_family_name_is_scored_however_big_the_block_of_the_given_name(risk: Risk) -> None:
    letters = "abcdefghijklmnoprstuvwyz"
    crowd = [
        profile(f"prof-k-{i:03d}", "Ardit", "K" + "".join(letters[(i // 24**k) % 24] for k in range(4)) + "a", **VN)
        for i in range(2500)  # more than blocking.max_scanned: the old selection stopped reading here
    ]
    target = profile("prof-target", "Ardit", "Gjoka", **VN)
    index = index_of(*crowd, target, risk=risk)
    event = report("Ardit", "Gjkoa", **VN)
    assert "prof-target" in index.candidates(event, risk.matching, risk.links)
    assert match(index, event, risk).profile_id == "prof-target"


def test_a_namesake_with_only_an_estimated_year_in_common_is_for_a_person_to_confirm(risk: Risk) -> None:
    estimated = {"value": "2011-01-01", "estimated": True}
    twins = [
        profile(f"prof-tw-{i}", "Ardit", "Hoxha", sex="male", nationality="Albanian", date_of_birth=estimated) for i in range(2)
    ]
    index = index_of(*twins, *CROWD, risk=risk)
    found = match(
        index, report("Ardit", "Hoxha", sex="male", nationality="Albanian", date_of_birth={"value": "2011-06-01"}), risk
    )
    assert found.decision == Decision.POSSIBLE_MATCH


def test_a_multi_word_given_name_is_paid_as_one_name_not_two(risk: Risk) -> None:
    """'Thanh Tùng' is one given name: where the index holds the two words together, a report sharing
    both is paid the bits of the pair, not of two independent names."""
    from alerts.matching.keys import _frequency_key
    from alerts.matching.scoring import _Probe

    together = [profile(f"prof-tt-{i:02d}", "Thanh Tùng", f"Fam{chr(97 + i)}", **VN) for i in range(12)]
    apart = [profile(f"prof-ap-{i:03d}", g, "Lam", **VN) for i, g in enumerate(["Minh Long", "Quang Hai"] * 50)]
    target = profile("prof-target", "Thanh Tùng", "Phạm", **VN)
    index = index_of(*together, *apart, target, risk=risk)
    tuned = index._tuning(risk.matching, risk.links)
    probe = _Probe.of(report("Thanh Tùng", "Phạm", **VN))
    paid = _Scorer(index, probe, tuned).score(index._slot_of["prof-target"], False, []).name
    assert paid is not None and paid.full == 3
    bits = index._bits("vn", tuned)
    independent = sum(bits(_frequency_key(name)) for name in ("thanh", "tung", "pham"))
    assert paid.points < independent - 2.0


# --- chance agreement: the same evidence names a child among few profiles, a namesake among many ---


def eritrean_crowd(size: int) -> list[RiskProfile]:
    """`size` Eritrean girls, four given and four family names evenly: each pair is 1 in 16. The other
    'Senait Tesfay's are born three or more years from 2011 (no date agrees with the report's)."""
    given, family = ("Senait", "Winta", "Saba", "Helen"), ("Tesfay", "Haile", "Kidane", "Berhe")
    out = []
    for i in range(size):
        g, f = given[i % 4], family[(i // 4) % 4]
        year = (2007, 2008, 2014, 2015, 2016)[i % 5] if (g, f) == ("Senait", "Tesfay") else 2008 + i % 9
        out.append(
            profile(
                f"crowd-{i:04d}",
                g,
                f,
                sex="female",
                nationality="Eritrean",
                date_of_birth={"value": f"{year}-0{1 + i % 9}-1{i % 10}"},
            )
        )
    return out


def test_a_possible_match_on_a_common_name_and_an_estimate_is_no_match_when_chance_explains_it(risk: Risk) -> None:
    target = profile(
        "prof-target", "Senait", "Tesfay", sex="female", nationality="Eritrean", date_of_birth={"value": "2011-06-15"}
    )
    event = report(
        "Senait", "Tesfay", sex="female", nationality="Eritrean", date_of_birth={"value": "2011-01-01", "estimated": True}
    )
    few = match(index_of(target, *eritrean_crowd(30), risk=risk), event, risk)
    assert (few.decision, few.profile_id) == (Decision.POSSIBLE_MATCH, "prof-target")
    # Among 2,000 such profiles, several are expected to agree as well by chance and only one does.
    many = match(index_of(target, *eritrean_crowd(2000), risk=risk), event, risk)
    assert (many.decision, many.profile_id) == (Decision.NO_MATCH, None)
    # A phone on the profile says more than names: kept.
    linked = target.model_copy(update={"phone_numbers": ["+447700900123"]})
    with_phone = report(
        "Senait",
        "Tesfay",
        sex="female",
        nationality="Eritrean",
        date_of_birth={"value": "2011-01-01", "estimated": True},
        circumstances={"phone_numbers": ["07700 900123"]},
    )
    kept = match(index_of(linked, *eritrean_crowd(1000), risk=risk), with_phone, risk)
    assert kept.profile_id == "prof-target" and kept.decision != Decision.NO_MATCH


def test_a_given_name_is_paid_its_share_among_profiles_of_the_same_sex(risk: Risk) -> None:
    # Given names are mostly of one sex: boys of other names in the index must not make a girl's
    # given name look rarer (the agreement on sex is paid once, as its own point).
    target = profile(
        "prof-target", "Senait", "Tesfay", sex="female", nationality="Eritrean", date_of_birth={"value": "2011-06-15"}
    )
    girls = [
        profile(f"girl-{i}", ("Senait", "Winta")[i % 2], f"Family{i}", sex="female", nationality="Eritrean") for i in range(20)
    ]
    boys = [profile(f"boy-{i}", "Yonas", f"Other{i}", sex="male", nationality="Eritrean") for i in range(60)]
    event = report("Senait", "Tesfay", sex="female", nationality="Eritrean", date_of_birth={"value": "2011-06-15"})
    alone = match(index_of(target, *girls, risk=risk), event, risk)
    among_boys = match(index_of(target, *girls, *boys, risk=risk), event, risk)
    assert alone.profile_id == among_boys.profile_id == "prof-target"
    assert among_boys.score == alone.score
    # With the sex unknown on the report, the share among all Eritrean profiles is what counts.
    unknown = report("Senait", "Tesfay", nationality="Eritrean", date_of_birth={"value": "2011-06-15"})
    assert (
        match(index_of(target, *girls, *boys, risk=risk), unknown, risk).score
        != match(index_of(target, *girls, risk=risk), unknown, risk).score
    )
