"""Routing: which agencies, which people on call, which channels, and why — from config alone."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from alerts.config import Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.model import (
    Decision,
    Incident,
    IncidentStatus,
    MatchResult,
    PlacementEvent,
    Priority,
    Recipient,
    RiskProfile,
)
from alerts.routing import SOCIAL_WORKER, Route, fallback, route
from tests.support import REPO

GOLDEN_INPUT = REPO / "tests" / "golden" / "input"
NIGHT = datetime(2026, 7, 14, 20, 51, tzinfo=UTC)  # Tuesday 21:51 BST: the nights layer, week 27
DAY = datetime(2026, 7, 14, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


def event(**changes: Any) -> PlacementEvent:
    data = json.loads((GOLDEN_INPUT / "event.json").read_text())
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return parse_event(json.dumps(data))


def profile(**changes: Any) -> RiskProfile:
    data = json.loads((GOLDEN_INPUT / "profiles.jsonl").read_text().splitlines()[0])
    data.update(changes)
    return parse_profile(json.dumps(data))


def incident(
    ev: PlacementEvent,
    *,
    decision: Decision = Decision.MATCH,
    priority: Priority = Priority.HIGH,
    received_at: datetime = NIGHT,
) -> Incident:
    assert ev.circumstances is not None
    return Incident(
        incident_id="inc-test",
        reference="CH-TEST01",
        status=IncidentStatus.OPEN,
        event_id=ev.event_id,
        child_reference=ev.child.reference,
        placement_id=ev.placement.id,
        local_authority=ev.placement.local_authority,
        match=MatchResult(decision=decision, profile_id="prof-golden-01", score=1.0),
        priority=priority,
        last_seen_at=ev.circumstances.last_seen_at,
        received_at=received_at,
        deadline=ev.circumstances.last_seen_at + timedelta(hours=1),
    )


def routes_for(config: Config, ev: PlacementEvent | None = None, prof: RiskProfile | None = None, **kw: Any) -> list[Route]:
    ev = ev or event()
    at = kw.pop("at", None)
    return route(incident(ev, **kw), prof, config, event=ev, at=at)


def agencies(routes: list[Route]) -> set[str]:
    return {r.recipient.agency_id for r in routes}


def test_a_full_match_fans_out_by_authority_force_indicators_and_place(config: Config) -> None:
    routes = routes_for(config, prof=profile())
    assert agencies(routes) == {
        "harrow-edt",  # placed in Harrow
        "brent-edt",  # Brent is responsible for the child
        SOCIAL_WORKER,
        "met-nw-bcu",  # the force area the child went missing from
        "met-police-mispers",  # high risk, Met force
        "modern-slavery-referral",  # trafficking indicators
        "ictg-london",  # indicators, and Brent has the guardian service
        "border-force-national",  # near a coach station
    }


def test_each_recipient_once_per_agency_address_and_channel_in_a_stable_order(config: Config) -> None:
    routes = routes_for(config, prof=profile())
    keys = [(r.recipient.agency_id, r.recipient.address, r.channel) for r in routes]
    assert len(keys) == len(set(keys))
    assert keys == [(r.recipient.agency_id, r.recipient.address, r.channel) for r in routes_for(config, prof=profile())]
    assert keys[0][0] == "harrow-edt"  # rule order: the first rule's recipients first


def test_possible_match_goes_only_to_the_emergency_duty_teams_and_the_social_worker(config: Config) -> None:
    # Below high priority (high also reaches the police desk: tests/unit/test_routing_coverage.py).
    routes = routes_for(config, prof=profile(), decision=Decision.POSSIBLE_MATCH, priority=Priority.MEDIUM)
    assert agencies(routes) == {"harrow-edt", "brent-edt", SOCIAL_WORKER}
    assert all(config.agencies[a].kind == "emergency_duty_team" for a in agencies(routes) - {SOCIAL_WORKER})
    assert all("decision possible_match" in r.why for r in routes)


def test_no_match_routes_nobody(config: Config) -> None:
    assert routes_for(config, prof=profile(), decision=Decision.NO_MATCH) == []


def test_a_child_without_a_profile_is_routed_on_the_placement_alone(config: Config) -> None:
    routes = routes_for(config, prof=None)
    # No responsible authority, indicators or social worker; the police force area comes from the placement.
    assert agencies(routes) == {"harrow-edt", "met-nw-bcu", "met-police-mispers", "border-force-national"}
    hub = next(r for r in routes if r.recipient.agency_id == "met-police-mispers")
    assert "the missing-person desk of Metropolitan Police Service" in hub.why


def test_low_priority_does_not_reach_the_police(config: Config) -> None:
    routes = routes_for(config, prof=profile(risk_level="low"), priority=Priority.LOW)
    assert not {a for a in agencies(routes) if config.agencies.get(a) and config.agencies[a].kind == "police"}


def test_near_an_airport_in_west_london_adds_heathrow_by_email(config: Config) -> None:
    ev = event(circumstances__near=["airport"], placement__local_authority="Hillingdon")
    routes = routes_for(config, ev, profile(responsible_local_authority="Hillingdon"))
    heathrow = [r for r in routes if r.recipient.agency_id == "border-force-heathrow"]
    assert [r.channel for r in heathrow] == ["email"]
    assert {"border-force-national", "hillingdon-edt", "met-wa-bcu"} <= agencies(routes)
    assert "near airport" in heathrow[0].why


def test_near_a_railway_station_adds_british_transport_police(config: Config) -> None:
    routes = routes_for(config, event(circumstances__near=["railway_station"]), profile())
    assert "btp-london" in agencies(routes) and "border-force-national" not in agencies(routes)


def test_city_of_london_police_by_the_profiles_force(config: Config) -> None:
    routes = routes_for(config, prof=profile(police_force="City of London Police"))
    assert "city-of-london-police" in agencies(routes)
    assert "met-police-mispers" in agencies(routes)  # the placement's area is still the Met's


def test_why_says_which_conditions_held_and_gathers_every_rule(config: Config) -> None:
    routes = routes_for(config, prof=profile())
    nw = next(r for r in routes if r.recipient.agency_id == "met-nw-bcu" and r.channel == "sms")
    assert nw.why.startswith(
        "rule 'Met North West BCU' (local authority Brent, Harrow; priority high) — on-call missing persons sergeant:"
    )
    assert nw.rules == ("Met North West BCU",)
    worker = next(r for r in routes if r.recipient.agency_id == SOCIAL_WORKER and r.channel == "sms")
    assert "the child's social worker" in worker.why
    assert "+44" not in " ".join(r.why for r in routes)  # no phone numbers in explanations


def test_a_recipient_chosen_by_two_rules_is_alerted_once_with_both_reasons(config: Config, tmp_path: Path) -> None:
    directory = Path(shutil.copytree(REPO / "config", tmp_path / "config"))
    path = directory / "routing.yaml"
    data = yaml.safe_load(path.read_text())
    data["rules"].append({"name": "high risk — Harrow EDT again", "match": {"priority": ["high"]}, "notify": ["harrow-edt"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    routes = routes_for(load_config(directory), prof=profile())
    edt = [r for r in routes if r.recipient.agency_id == "harrow-edt" and r.recipient.address == "+447700900201"]
    assert len(edt) == 1
    assert edt[0].rules == ("Harrow emergency duty team", "high risk — Harrow EDT again")
    assert "; and rule 'high risk — Harrow EDT again' (priority high)" in edt[0].why


def test_the_social_workers_number_is_normalised(config: Config) -> None:
    worker = next(r for r in routes_for(config, prof=profile()) if r.recipient.agency_id == SOCIAL_WORKER and r.channel == "sms")
    assert worker.recipient.address == "+447700900303"  # written 07700 900303 in the profile


# --- rotas ------------------------------------------------------------------------------------------


def nw_sms(routes: list[Route]) -> Recipient:
    return next(r.recipient for r in routes if r.recipient.agency_id == "met-nw-bcu" and r.channel == "sms")


def test_the_person_on_call_at_the_reports_receipt_is_alerted(config: Config) -> None:
    assert nw_sms(routes_for(config, prof=profile(), received_at=NIGHT)).name == "PS Devon Ilves"  # nights, week 27
    assert nw_sms(routes_for(config, prof=profile(), received_at=DAY)).name == "PS Blake Mercer"  # days, week 27
    # An explicit moment wins over the receipt time.
    assert nw_sms(routes_for(config, prof=profile(), received_at=NIGHT, at=DAY)).name == "PS Blake Mercer"


def test_the_christmas_override_is_alerted(config: Config) -> None:
    routes = routes_for(config, prof=profile(), received_at=datetime(2026, 12, 25, 3, 0, tzinfo=UTC))
    assert nw_sms(routes).name == "Insp Eden Farrow"
    assert "override: Christmas cover" in next(r.why for r in routes if r.recipient.name == "Insp Eden Farrow")


def test_fallback_is_the_next_person_on_call_with_that_channel(config: Config) -> None:
    first = nw_sms(routes_for(config, prof=profile()))
    second = fallback(first, "sms", config, NIGHT)
    assert second is not None and second.recipient.name == "PS Casey Nwosu" and second.recipient.agency_id == "met-nw-bcu"
    assert second.recipient.address == "+447700900113" and second.why.startswith("fallback: PS Devon Ilves could not be reached")
    seen = {first.address, second.recipient.address}
    third = fallback(second.recipient, "sms", config, NIGHT, tried=seen)
    assert third is not None and third.recipient.name in ("PS Avery Quinn", "PS Blake Mercer")
    current: Recipient | None = third.recipient
    while current is not None:
        assert current.address not in seen
        seen.add(current.address)
        step = fallback(current, "sms", config, NIGHT, tried=seen)
        current = step.recipient if step else None
    assert len(seen) == 5  # everyone in the rota, then None


def test_no_fallback_for_a_fixed_contact(config: Config) -> None:
    edt = next(r.recipient for r in routes_for(config, prof=profile()) if r.recipient.agency_id == "brent-edt")
    assert fallback(edt, "sms", config, NIGHT) is None
    assert fallback(Recipient(agency_id="nobody", name="x", address="y"), "sms", config, NIGHT) is None


def test_an_agency_and_a_rule_added_in_yaml_only_are_routed(tmp_path: Path) -> None:
    directory = Path(shutil.copytree(REPO / "config", tmp_path / "config"))
    agencies_path, routing_path = directory / "agencies.yaml", directory / "routing.yaml"
    data = yaml.safe_load(agencies_path.read_text())
    data["agencies"]["kent-border-safeguarding"] = {
        "name": "Kent port safeguarding",
        "kind": "border_force",
        "contacts": [{"name": "Port duty officer", "sms": "07700 900171", "email": "port@kent.example"}],
    }
    agencies_path.write_text(yaml.safe_dump(data, sort_keys=False))
    rules = yaml.safe_load(routing_path.read_text())
    rules["rules"].append(
        {"name": "near a port", "match": {"near": ["port"]}, "notify": ["kent-border-safeguarding"], "channels": ["sms"]}
    )
    routing_path.write_text(yaml.safe_dump(rules, sort_keys=False))
    routes = routes_for(load_config(directory), event(circumstances__near=["port"]), profile())
    added = [r for r in routes if r.recipient.agency_id == "kent-border-safeguarding"]
    assert [(r.channel, r.recipient.address) for r in added] == [("sms", "+447700900171")]
    assert added[0].why == "rule 'near a port' (near port)"


def test_agency_routes_resolve_rota_contacts_for_callers_outside_the_rules(config: Config) -> None:
    from alerts.routing import agency_routes

    routes = agency_routes("met-nw-bcu", ["sms", "email"], config, DAY, "escalation step 1")
    assert [(r.channel, r.recipient.name) for r in routes] == [
        ("sms", "PS Blake Mercer"),
        ("email", "PS Blake Mercer"),
        ("email", "NW BCU missing persons unit"),
    ]
    assert (
        routes[0].why == "escalation step 1 — on-call missing persons sergeant: on call in rota 'met-nw-mispers' (layer 'days')"
    )


# --- fallback at the moment of the fallback -------------------------------------------------------


def _nw_rota(config: Config) -> Any:
    return config.rota.rotas["met-nw-mispers"]


@pytest.mark.parametrize(
    ("received", "failed_at", "label"),
    [
        # 19:50 BST -> 20:05 BST, the evening handover of an ordinary July day
        (datetime(2026, 7, 14, 18, 50, tzinfo=UTC), datetime(2026, 7, 14, 19, 5, tzinfo=UTC), "evening handover"),
        # 28 March 2027: 07:50 BST -> 08:05 BST, the first morning handover after the spring change
        (datetime(2027, 3, 28, 6, 50, tzinfo=UTC), datetime(2027, 3, 28, 7, 5, tzinfo=UTC), "spring change"),
        # 31 October 2027: 07:50 GMT -> 08:05 GMT, the first morning handover after the autumn change
        (datetime(2027, 10, 31, 7, 50, tzinfo=UTC), datetime(2027, 10, 31, 8, 5, tzinfo=UTC), "autumn change"),
        # received before the spring change (00:30 GMT), failed after it and the handover (08:05 BST)
        (datetime(2027, 3, 28, 0, 30, tzinfo=UTC), datetime(2027, 3, 28, 7, 5, tzinfo=UTC), "across the spring change"),
        # received in the hour that happens twice (01:30 BST, its first occurrence), failed at 08:05 GMT
        (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), datetime(2027, 10, 31, 8, 5, tzinfo=UTC), "across the autumn change"),
    ],
)
def test_a_fallback_after_a_handover_goes_to_whoever_is_on_call_then(
    config: Config, received: datetime, failed_at: datetime, label: str
) -> None:
    from alerts.rota import on_call

    london = ZoneInfo("Europe/London")
    handover = failed_at.astimezone(london).replace(minute=0)
    assert handover.hour in (8, 20), label  # an independent check that the rota hands over between the two
    rota = _nw_rota(config)
    off_going, on_coming = on_call(rota, received), on_call(rota, failed_at)
    assert off_going is not None and on_coming is not None and off_going.person_id != on_coming.person_id
    first = nw_sms(routes_for(config, prof=profile(), received_at=received))
    assert first.name == off_going.person.name, "routed at the moment of receipt"
    step = fallback(first, "sms", config, failed_at)
    assert step is not None, label
    assert step.recipient.name == on_coming.person.name, f"{label}: the fallback is whoever is on call at the fallback"
    assert "on call" in step.why


def test_after_the_person_on_call_the_fallback_walks_the_rest_of_the_order(config: Config) -> None:
    from alerts.rota import on_call_order

    failed_at = datetime(2027, 3, 28, 7, 5, tzinfo=UTC)
    first = nw_sms(routes_for(config, prof=profile(), received_at=datetime(2027, 3, 28, 6, 50, tzinfo=UTC)))
    order = [o.person.name for o in on_call_order(_nw_rota(config), failed_at)]
    tried = {first.address}
    reached = []
    while (step := fallback(first, "sms", config, failed_at, tried=tried)) is not None:
        reached.append(step.recipient.name)
        tried.add(step.recipient.address)
    assert reached == [name for name in order if name != first.name], "everyone once, on call first"
