"""What every config file's schema shares: the strict base model and the id and value types more than
one file uses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from alerts.channels import CHANNELS

# Package data: the templates ship inside the wheel, so an installed worker never looks for them
# next to whatever directory its config happens to be in.
PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
RotaId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
PersonId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


def _registered(name: str) -> str:
    if name not in CHANNELS:
        raise ValueError(f"{CHANNELS.unknown(name)}: use one of them")
    return name


ChannelName = Annotated[str, AfterValidator(_registered)]


def channels_by_default() -> list[str]:
    return [channel.name for channel in CHANNELS if channel.routed_by_default]


# Wall-clock times, as text (quote them: YAML reads 20:00 as a number).
ClockTime = Annotated[str, StringConstraints(strict=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Near = Literal["port", "airport", "coach_station", "railway_station"]
Names = Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]], Field(min_length=1)]


def unknown_time_zone(name: str) -> bool:
    """Whether `name` is not an IANA time zone this machine knows."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:
        return True
    return False
