"""What the web side sees of a running worker: a Protocol, not the pipeline's Worker class, so no web
module imports the app that wires it (the app imports the web views; never the other way round).

`streams.pipeline.app.Worker` satisfies WorkerPort structurally; tests may pass any object that does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import faust
    from prometheus_client import CollectorRegistry

    from alerts.config import Config
    from alerts.directory import IncidentDirectory
    from alerts.matching import ProfileIndex
    from alerts.model import IncidentCommand
    from alerts.placements import PlacementRegister
    from streams.pipeline.identity import Registers
    from streams.web.acklinks import AckLinks
    from streams.web.health import Heartbeat, Progress
    from streams.web.sessions import AuthState

Clock = Callable[[], datetime]


class Outputs(Protocol):
    """Where records are produced. Returns once the broker has acknowledged the write."""

    async def emit(self, topic: str, key: str | None, value: bytes) -> None: ...


class Loading(Protocol):
    """A feed that says when the records that existed at start have been applied."""

    @property
    def ready(self) -> asyncio.Event: ...


class WorkerPort(Protocol):
    """The handles of a running worker that the web views use (read-only here)."""

    @property
    def app(self) -> faust.App: ...
    @property
    def config(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def outputs(self) -> Outputs: ...
    @property
    def index(self) -> ProfileIndex: ...
    @property
    def feed(self) -> Loading: ...
    @property
    def directory(self) -> IncidentDirectory: ...
    @property
    def registry(self) -> CollectorRegistry: ...
    @property
    def ack_links(self) -> AckLinks: ...
    @property
    def placements(self) -> PlacementRegister: ...
    @property
    def placement_feed(self) -> Loading: ...
    @property
    def registers(self) -> Registers: ...
    @property
    def auth_state(self) -> AuthState: ...
    @property
    def heartbeat(self) -> Heartbeat: ...
    @property
    def progress(self) -> Progress: ...
    @property
    def reloader(self) -> Any: ...  # streams.web.health.Reloader once create_app has set it
    @property
    def role(self) -> str: ...  # the stages this process runs (streams/pipeline/roles.py)
    @property
    def loading(self) -> dict[str, asyncio.Event]: ...  # the feeds /ready waits for, by name

    async def command(self, command: IncidentCommand) -> None:
        """Ask the incident's owner to apply `command` (acknowledge, escalate, breach)."""
        ...
