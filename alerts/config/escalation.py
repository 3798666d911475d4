"""escalation.yaml: who is alerted next, per priority, while nobody has acknowledged, and the checks on
its steps (in time order, known agencies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field

from alerts.config.agencies import Agency
from alerts.config.base import AgencyId, ChannelName, Schema, channels_by_default
from alerts.errors import ConfigError
from alerts.model import Priority


class EscalationStep(Schema):
    """Fires `after_minutes` after the report was received, unless someone has acknowledged."""

    after_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    notify: Annotated[list[AgencyId], Field(min_length=1)]
    channels: Annotated[list[ChannelName], Field(min_length=1)] = Field(default_factory=channels_by_default)


class EscalationChain(Schema):
    """Each step alerts only whom it adds (nobody already alerted); a possible match reaches only the
    agencies routing may tell of one. After the last step, it repeats every `repeat_every_minutes`
    (reaching whoever has come on call since) at most `max_repeats` times: then escalation stops, and
    the timeline and the board say so."""

    steps: list[EscalationStep] = []
    repeat_every_minutes: Annotated[float, Field(gt=0, le=24 * 60)] | None = Field(
        default=None, description="after the last step, repeat it this often until acknowledged (up to max_repeats)"
    )
    max_repeats: Annotated[int, Field(ge=0, le=96)] = Field(
        default=0, description="the ceiling: how many repeats of the last step before escalation stops"
    )

    @property
    def ceiling(self) -> int:
        """The last step that is ever taken (1-based)."""
        return len(self.steps) + (self.max_repeats if self.repeat_every_minutes else 0)


class Escalation(Schema):
    tick_seconds: Annotated[float, Field(gt=0, le=300)] = Field(default=15.0, description="how often the leader checks")
    window_at_risk_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = Field(
        default=20.0, description="the board marks an unacknowledged incident at risk with this little time left"
    )
    chains: dict[Priority, EscalationChain] = {}


def check_escalation(path: str, escalation: Escalation, agencies: dict[str, Agency] | None) -> Iterator[ConfigError]:
    """Steps in time order; the agencies they notify are agencies.yaml's (when it is valid)."""
    for priority, chain in escalation.chains.items():
        previous = 0.0
        for i, step in enumerate(chain.steps):
            key = f"chains.{priority.value}.steps[{i}]"
            if step.after_minutes <= previous:
                yield ConfigError(
                    path,
                    f"{key}.after_minutes",
                    f"{step.after_minutes} is not after the previous step ({previous})",
                    "list steps in time order",
                )
            previous = step.after_minutes
            unknown = [(j, a) for j, a in enumerate(step.notify) if agencies is not None and a not in agencies]
            for j, agency_id in unknown:
                yield ConfigError(
                    path, f"{key}.notify[{j}]", f"unknown agency '{agency_id}'", "define it in agencies.yaml or use a known id"
                )
