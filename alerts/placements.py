"""The placement register: each placement, the provider it belongs to, and the children placed there
as recorded in advance (Philomena part 1) — what the report form offers to choose from.

Placements live on a compacted topic keyed by placement id (a tombstone removes one), not in config:
children arrive and leave placements every week. Each worker follows the topic into a
`PlacementRegister`. Pure: no Kafka here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from alerts.intake import parse
from alerts.model import Child, Ref, Strict, Text

ProviderRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]  # as providers.yaml's keys
Postcode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9 ]{2,8}$")]
MAX_CHILDREN = 200


class Placement(Strict):
    placement_id: Ref
    provider_id: ProviderRef = Field(description="the provider in providers.yaml who runs it and may change it")
    name: Text
    local_authority: Text
    postcode: Postcode
    children: Annotated[list[Child], Field(max_length=MAX_CHILDREN)] = Field(
        default=[], description="placed children as recorded in advance (Philomena part 1): the form's list"
    )

    @model_validator(mode="after")
    def _references_once(self) -> Placement:
        seen: set[str] = set()
        for i, child in enumerate(self.children):
            if child.reference in seen:
                raise ValueError(f"children[{i}].reference is given twice in this placement")
            seen.add(child.reference)
        return self


def parse_placement(raw: bytes | str) -> Placement:
    """Validate one placement (JSON); raise RejectedInput naming every bad field, quoting no values."""
    return parse(Placement, raw)


class PlacementRegister:
    """The placements a worker knows, by id; replaced whole on each record for a placement."""

    def __init__(self) -> None:
        self._placements: dict[str, Placement] = {}

    def upsert(self, placement: Placement) -> None:
        self._placements[placement.placement_id] = placement

    def remove(self, placement_id: str) -> None:
        self._placements.pop(placement_id, None)

    def get(self, placement_id: str) -> Placement | None:
        return self._placements.get(placement_id)

    def owner(self, placement_id: str) -> str | None:
        """The provider id of the placement, or None when it is not registered."""
        placement = self._placements.get(placement_id)
        return placement.provider_id if placement else None

    def of_provider(self, provider_id: str) -> list[Placement]:
        return sorted((p for p in self._placements.values() if p.provider_id == provider_id), key=lambda p: p.placement_id)

    def __len__(self) -> int:
        return len(self._placements)

    def __iter__(self) -> Iterator[Placement]:
        return iter(list(self._placements.values()))
