"""board.yaml: the situation board's refresh and the duty staff who may sign in to it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from alerts.config.base import Schema
from alerts.config.providers import Password


class DutyStaff(Password):
    """Someone who may sign in to the situation board (police, emergency duty team, MASH duty staff)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Board(Schema):
    refresh_seconds: Annotated[float, Field(ge=1, le=300)] = Field(default=5.0, description="how often the page refreshes itself")
    staff: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")], DutyStaff] = {}
