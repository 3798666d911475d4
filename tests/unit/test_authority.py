"""alerts.authority and its use by triage and lifecycle: who may change which incident, what a claim
does, and identity per (sender, event id)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from alerts.authority import (
    body_digest,
    claim_id,
    free_incident_ids,
    incident_ids,
    may_change,
    may_report_for,
    sender_of,
)
from alerts.config import PACKAGE_TEMPLATES, Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.lifecycle import confirm_claim
from alerts.matching import ProfileIndex
from alerts.model import Incident, IncidentStatus, PlacementEvent, Recipient
from alerts.rendering import Renderer
from alerts.triage import Context, Origin, Outcome, Report, triage
from tests.support import REPO, make_event, sample_profiles, sample_register

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
PLACEMENTS = sample_register()
BRENT = {"id": "plc-brent-03", "name": "Brentside house", "local_authority": "Brent", "postcode": "NW10 9ZZ"}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


@pytest.fixture(scope="module")
def index() -> ProfileIndex:
    index = ProfileIndex()
    for profile in sample_profiles():
        index.upsert(parse_profile(json.dumps(profile)))
    return index


def event(type: str = "left_placement", placement: dict[str, str] | None = None, **kwargs: object) -> PlacementEvent:
    data = make_event(type=type, now=NOW, child_reference="HAR-2026-0192", **kwargs)  # type: ignore[arg-type]
    if placement is not None:
        data["placement"] = placement
    return parse_event(json.dumps(data))


def run(e: PlacementEvent, config: Config, index: ProfileIndex, incident: Incident | None, sender: str | None = None) -> Outcome:
    renderer = Renderer(PACKAGE_TEMPLATES)
    return triage(e, Context(config, renderer, NOW, index, PLACEMENTS), incident, Origin(sender))


def opened(config: Config, index: ProfileIndex) -> Incident:
    outcome = run(event(), config, index, None)
    assert outcome.label == "opened" and outcome.open_incident is not None
    return outcome.open_incident


def test_the_sender_is_the_stamped_provider_else_the_placements(config: Config) -> None:
    assert sender_of(event(), None, config.providers, PLACEMENTS) == "larchwood-care"
    assert sender_of(event(), "brentside-homes", config.providers, PLACEMENTS) == "brentside-homes"
    assert sender_of(event(), "nobody-we-know", config.providers, PLACEMENTS) == "unconfigured:nobody-we-know"
    unknown = {"id": "plc-elsewhere", "name": "Elsewhere", "local_authority": "Ealing", "postcode": "W5 1ZZ"}
    assert sender_of(event(placement=unknown), None, config.providers, PLACEMENTS) == "placement:plc-elsewhere"


def test_an_incident_records_who_opened_it(config: Config, index: ProfileIndex) -> None:
    incident = opened(config, index)
    assert incident.provider_id == "larchwood-care"
    # One opened before incidents recorded their provider belongs to its placement's provider.
    older = incident.model_copy(update={"provider_id": None})
    assert run(event("returned"), config, index, older).label == "resolved"
    assert run(event("returned", placement=BRENT), config, index, older, sender="brentside-homes").label == "claim"


def test_another_providers_return_is_a_claim_not_a_stand_down(config: Config, index: ProfileIndex) -> None:
    incident = opened(config, index)
    outcome = run(event("returned", placement=BRENT), config, index, incident, sender="brentside-homes")
    assert outcome.label == "claim"
    assert outcome.open_incident is not None and outcome.open_incident.status == IncidentStatus.OPEN
    [claim] = outcome.open_incident.claims
    assert claim.sender == "brentside-homes" and claim.type == "returned" and claim.status == "unverified"
    assert {n.kind for n in outcome.notifications} == {"claim"}
    assert {(n.channel, n.recipient.address) for n in outcome.notifications} == {
        (a.channel, a.recipient.address) for a in incident.alerted
    }
    sms = next(n for n in outcome.notifications if n.channel == "sms")
    assert f"CONFIRM {incident.reference} {claim.claim_id}" in sms.message.text
    # The same claim again changes nothing and asks nobody twice.
    again = run(
        event("returned", placement=BRENT, event_id=claim.event_id), config, index, outcome.open_incident, "brentside-homes"
    )
    assert again.label == "claim_repeated" and not again.records and not again.notifications


@pytest.mark.parametrize("kind", ["update", "left_placement"])
def test_another_providers_update_or_report_is_a_claim_too(config: Config, index: ProfileIndex, kind: str) -> None:
    outcome = run(event(kind, placement=BRENT), config, index, opened(config, index), sender="brentside-homes")
    assert outcome.label == "claim" and all(n.kind == "claim" for n in outcome.notifications)


def test_the_owners_return_stands_down(config: Config, index: ProfileIndex) -> None:
    outcome = run(event("returned"), config, index, opened(config, index), sender="larchwood-care")
    assert outcome.label == "resolved" and {n.kind for n in outcome.notifications} == {"stand_down"}


def test_a_configured_authority_may_change_the_incident(config: Config, index: ProfileIndex) -> None:
    providers = config.providers.model_copy(deep=True)
    object.__setattr__(providers.providers["brentside-homes"], "authority_for", ["Harrow"])
    authority = config.model_copy(update={"providers": providers})
    incident = opened(config, index)
    assert may_change("brentside-homes", incident, None, providers, PLACEMENTS)
    outcome = run(event("returned", placement=BRENT), authority, index, incident, sender="brentside-homes")
    assert outcome.label == "resolved"
    # Through the API it may send returns and updates for Harrow's placements, never a first report.
    assert may_report_for("brentside-homes", "plc-harrow-07", "returned", providers.providers, PLACEMENTS)
    assert not may_report_for("brentside-homes", "plc-harrow-07", "left_placement", providers.providers, PLACEMENTS)
    assert not may_report_for("brentside-homes", "plc-harrow-07", "returned", config.providers.providers, PLACEMENTS)


def test_a_confirmed_claim_is_applied_once_with_who_confirmed_it(config: Config, index: ProfileIndex) -> None:
    renderer = Renderer(PACKAGE_TEMPLATES)
    claimed_event = event("returned", placement=BRENT)
    claim = run(claimed_event, config, index, opened(config, index), sender="brentside-homes").open_incident
    assert claim is not None
    cid = claim.claims[0].claim_id
    duty = Recipient(agency_id="board", name="MASH duty manager", address="board:duty.manager")
    outcome = confirm_claim(Context(config, renderer, NOW), claim, cid, duty, Report(claimed_event))
    assert outcome.label == "resolved" and {n.kind for n in outcome.notifications} == {"stand_down"}
    resolved = outcome.records[-1].incident
    assert resolved.claims[0].status == "confirmed" and resolved.claims[0].confirmed_by == duty
    assert any("confirmed by MASH duty manager" in e.what for e in resolved.timeline)
    assert confirm_claim(Context(config, renderer, NOW), resolved, cid, duty, Report(claimed_event)).label == "claim_not_pending"
    assert (
        confirm_claim(Context(config, renderer, NOW), claim, "00000000", duty, Report(claimed_event)).label == "claim_not_pending"
    )


def test_identity_is_per_sender_and_event_id() -> None:
    assert incident_ids("evt-1", "larchwood-care") != incident_ids("evt-1", "brentside-homes")
    assert incident_ids("evt-1", "larchwood-care") == incident_ids("evt-1", "larchwood-care")
    assert claim_id("a", "evt-1") != claim_id("b", "evt-1")
    first = incident_ids("evt-1", "larchwood-care")
    # A reference already another incident's is skipped for the next free one.
    taken = {first[1]}
    chosen = free_incident_ids("evt-1", "larchwood-care", lambda ref, iid: ref in taken and iid != "other")
    assert chosen != first and chosen == incident_ids("evt-1", "larchwood-care", 1)


def test_the_body_digest_ignores_only_reported_at() -> None:
    base = make_event(now=NOW, event_id="evt-d")
    restamped = dict(base, reported_at="2026-11-28T23:01:00Z")
    changed = json.loads(json.dumps(base))
    changed["circumstances"]["last_seen_place"] = "elsewhere"
    digest = body_digest(parse_event(json.dumps(base)))
    assert body_digest(parse_event(json.dumps(restamped))) == digest
    assert body_digest(parse_event(json.dumps(changed))) != digest
