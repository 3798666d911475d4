"""Who may change which incident, and what identifies a report: pure rules, no Kafka or HTTP.

A report's *sender* is the provider that sent it. The API and the report form stamp it from the
authenticated principal; a record produced straight on Kafka names it in the `crucial-provider`
header (direct producers are trusted per Kafka ACL on the placement-events topic, see the README), and
one that names nobody is taken to come from the provider whose placement it names (the placement
register), or — a placement no
provider lists — from `placement:<id>`.

An incident belongs to the sender that opened it. `left_placement`, `update` and `returned` change it
only when they come from that sender, or from a provider configured as an authority for the child
(providers.yaml `authority_for`: the placement's or the profile's responsible local authority).
Anything else is a claim: kept on the timeline, not applied, until someone the incident alerted (or
the duty team on the board) confirms it.

Identity: incident ids and references come from (sender, event id), so two providers' event ids never
meet. The same (sender, event id) with a different body is a conflict, not a replay; the body's digest
leaves out `reported_at`, which a retry (a second press of Send) may stamp afresh.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Protocol

from alerts.config import Provider, Providers
from alerts.model import Incident, PlacementEvent, RiskProfile
from alerts.placements import Placement

UNIDENTIFIED = "placement:"
# The Kafka record header naming the sender: stamped by the API and the form, set by direct producers.
PROVIDER_HEADER = "crucial-provider"
MAX_REFERENCE_TRIES = 16


class Placements(Protocol):
    """Who owns which placement, and where it is: the placement register (alerts.placements)."""

    def owner(self, placement_id: str) -> str | None: ...

    def get(self, placement_id: str) -> Placement | None: ...


def sender_of(event: PlacementEvent, stamped: str | None, providers: Providers, placements: Placements) -> str:
    """Who sent `event`: the stamped provider when it is a configured one, else the placement's."""
    if stamped:
        return stamped if stamped in providers.providers else f"unconfigured:{stamped}"
    return placements.owner(event.placement.id) or UNIDENTIFIED + event.placement.id


def owner_of(incident: Incident, placements: Placements) -> str:
    """Who opened the incident. One opened before incidents recorded it (provider_id None) belongs to
    its placement's provider, as sender_of would have said."""
    if incident.provider_id:
        return incident.provider_id
    return placements.owner(incident.placement_id) or UNIDENTIFIED + incident.placement_id


def is_authority(sender: str, incident: Incident, profile: RiskProfile | None, providers: Providers) -> bool:
    provider = providers.providers.get(sender)
    if provider is None or not provider.authority_for:
        return False
    acts_for = {name.casefold() for name in provider.authority_for}
    if incident.local_authority.casefold() in acts_for:
        return True
    return profile is not None and profile.responsible_local_authority.casefold() in acts_for


def may_change(
    sender: str, incident: Incident, profile: RiskProfile | None, providers: Providers, placements: Placements
) -> bool:
    return sender == owner_of(incident, placements) or is_authority(sender, incident, profile, providers)


def may_report_for(
    sender: str, placement_id: str, event_type: str, providers: Mapping[str, Provider], placements: Placements
) -> bool:
    """Whether an authenticated provider may send this event at all (the API's 403): for its own
    placements in the register, or — an update or return, never a first report — for a placement in
    an area it acts for."""
    provider = providers.get(sender)
    if provider is None:
        return False
    if placements.owner(placement_id) == sender:
        return True
    if event_type == "left_placement" or not provider.authority_for:
        return False
    acts_for = {name.casefold() for name in provider.authority_for}
    placement = placements.get(placement_id)
    return placement is not None and placement.local_authority.casefold() in acts_for


def register_key(sender: str, event_id: str) -> str:
    """The key of an event id in the register: unique per (sender, event id)."""
    return f"{sender}\x1f{event_id}"


def body_digest(event: PlacementEvent) -> str:
    """SHA-256 over the event's canonical JSON without `reported_at`."""
    data = event.model_dump(mode="json")
    data.pop("reported_at", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def incident_ids(event_id: str, sender: str = "", attempt: int = 0) -> tuple[str, str]:
    """(incident id, short reference) for the incident (sender, event id) opens; `attempt` > 0 when an
    earlier reference was already another incident's."""
    seed = f"{sender}\x1f{event_id}" if sender else event_id
    if attempt:
        seed += f"\x1f{attempt}"
    digest = hashlib.sha256(seed.encode()).digest()
    short = base64.b32encode(digest[:5]).decode()[:6]
    return f"inc-{digest.hex()[:20]}", f"CH-{short}"


def free_incident_ids(event_id: str, sender: str, taken: Callable[[str, str], bool]) -> tuple[str, str]:
    """incident_ids, skipping references `taken(reference, incident_id)` says belong to another incident."""
    for attempt in range(MAX_REFERENCE_TRIES):
        incident_id, reference = incident_ids(event_id, sender, attempt)
        if not taken(reference, incident_id):
            return incident_id, reference
    raise RuntimeError("no free incident reference")  # 16 collisions in 2^30: not in this universe


def claim_id(sender: str, event_id: str) -> str:
    """A short id for a claim, quoted to confirm it (CONFIRM <ref> <claim id> or the board)."""
    return hashlib.sha256(register_key(sender, event_id).encode()).hexdigest()[:8]


def conflict_reason(event_id: str, reference: str | None) -> str:
    at = f" (reference {reference})" if reference else ""
    return (
        f"event_id: '{event_id}' was already sent with a different body{at}; "
        "send a correction as an update with an event id of its own"
    )
