"""agencies.yaml: who may be alerted, each with its contacts, and the checks on their contacts."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from alerts.config.base import AgencyId, E164Phone, RotaId, Schema
from alerts.errors import ConfigError
from alerts.model import Email


class Contact(Schema):
    """A fixed contact (an sms number, an email address or both), or `rota:` — whoever of that on-call
    rota (rota.yaml) is on call at the time of the report; `name` labels either (e.g. "duty sergeant")."""

    name: Annotated[str, StringConstraints(min_length=1)]
    sms: E164Phone | None = None
    email: Email | None = None
    rota: RotaId | None = None


AgencyKind = Literal[
    "police",
    "emergency_duty_team",
    "social_care",
    "border_force",
    "modern_slavery_referral",
    "guardian",
    "other",
]


class Agency(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    kind: AgencyKind
    contacts: Annotated[list[Contact], Field(min_length=1)]


class Agencies(Schema):
    agencies: dict[AgencyId, Agency]


def check_agencies(path: str, agencies: dict[str, Agency], rota_ids: Collection[str] | None) -> Iterator[ConfigError]:
    """Each contact is either a rota or a fixed sms/email; a rota named is one of rota.yaml's (checked
    only when rota.yaml itself is valid: `rota_ids` None)."""
    for agency_id, agency in agencies.items():
        for k, contact in enumerate(agency.contacts):
            yield from _check_contact(path, f"agencies.{agency_id}.contacts[{k}]", contact, rota_ids)


def _check_contact(path: str, key: str, contact: Contact, rota_ids: Collection[str] | None) -> Iterator[ConfigError]:
    if contact.rota is None:
        if contact.sms is None and contact.email is None:
            yield ConfigError(
                path, key, f"contact '{contact.name}' has no sms or email", "give an sms number, an email address, or both"
            )
        return
    if contact.sms is not None or contact.email is not None:
        yield ConfigError(
            path,
            key,
            f"contact names rota '{contact.rota}' and also an sms or email",
            "a rota contact reaches whoever is on call: move the fixed sms/email to a contact of its own",
        )
    if rota_ids is not None and contact.rota not in rota_ids:
        known = ", ".join(sorted(rota_ids)) or "none defined"
        yield ConfigError(
            path, f"{key}.rota", f"unknown rota '{contact.rota}'", f"define it in rota.yaml or use a known id ({known})"
        )
