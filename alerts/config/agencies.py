"""agencies.yaml: who may be alerted, each with its contacts (addresses by channel, or a rota), and the
checks on their contacts; `Addressed`, the base of anyone reached by channel (rota people too)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from pydantic import AfterValidator, Field, StringConstraints, create_model, model_validator
from pydantic_core import PydanticCustomError

from alerts.channels import CHANNELS, AddressError
from alerts.channels.plugin import Channel
from alerts.config.base import AgencyId, RotaId, Schema
from alerts.errors import ConfigError


def _address_type(channel: Channel) -> Any:
    """A channel's address in config: any spelling its parser accepts, held in its normal form."""

    def parse(value: str) -> str:
        try:
            return channel.address(value)
        except AddressError as exc:
            raise ValueError(str(exc)) from None

    return Optional[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(parse)]]  # noqa: UP045


class Addressed(Schema):
    """Someone reached by channel: one key per registered channel (`sms:`, `email:` …) holding their
    address there. A key that is neither a field nor a channel is refused, naming the channels."""

    @model_validator(mode="before")
    @classmethod
    def _keys_are_channels(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    fields = ", ".join(k for k in cls.model_fields if k not in CHANNELS)
                    raise PydanticCustomError(
                        "unknown_channel",
                        "unknown key {key}: {problem}, nor one of {fields}",
                        {"key": repr(key), "problem": CHANNELS.unknown(str(key)), "fields": fields},
                    )
        return data

    def address(self, channel: str) -> str | None:
        """The address on `channel`, None when this person has none there."""
        value = getattr(self, channel, None) if channel in CHANNELS else None
        return value if isinstance(value, str) else None

    def addresses(self) -> dict[str, str]:
        """Every channel this person can be reached on, in registry order, with the address there."""
        return {channel.name: address for channel in CHANNELS if (address := self.address(channel.name))}


def by_channel(name: str, base: type[Addressed]) -> type[Addressed]:
    fields: dict[str, Any] = {channel.name: (_address_type(channel), None) for channel in CHANNELS}
    made: type[Addressed] = create_model(name, __base__=base, __module__=__name__, **fields)
    made.__doc__ = base.__doc__
    return made


class _Contact(Addressed):
    """A fixed contact (an address on one or more channels), or `rota:` — whoever of that on-call
    rota (rota.yaml) is on call at the time of the report; `name` labels either (e.g. "duty sergeant")."""

    name: Annotated[str, StringConstraints(min_length=1)]
    rota: RotaId | None = None


if TYPE_CHECKING:
    Contact = _Contact
else:
    Contact = by_channel("Contact", _Contact)


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
        if not contact.addresses():
            yield ConfigError(path, key, f"contact '{contact.name}' has no address on any channel", give_an_address())
        return
    if fixed := contact.addresses():
        yield ConfigError(
            path,
            key,
            f"contact names rota '{contact.rota}' and also {' or '.join(fixed)}",
            f"a rota contact reaches whoever is on call: move the fixed {'/'.join(fixed)} to a contact of its own",
        )
    if rota_ids is not None and contact.rota not in rota_ids:
        known = ", ".join(sorted(rota_ids)) or "none defined"
        yield ConfigError(
            path, f"{key}.rota", f"unknown rota '{contact.rota}'", f"define it in rota.yaml or use a known id ({known})"
        )


def give_an_address() -> str:
    return f"give an address on at least one of the channels ({', '.join(f'{name}:' for name in CHANNELS.names)})"
