"""The Faust app, wired. Follow one event: the triage agent hands it to the incident owner
(streams/pipeline/owner.py), which calls the domain (alerts.triage) and produces incident records and
notifications; the deliver agent hands each notification to the deliverer (streams/pipeline/deliverer.py),
which sends it once through its channel, recording intent before the send and the provider's id
after, on the deliveries topic (its ledger).

The owner is the single writer of each child's incident: acknowledgements, escalations and breaches
reach it as commands on a topic keyed (and partitioned) like the placement events. Every worker
follows the incidents and deliveries topics whole (the directory) for the board, the acknowledgement
views and the leader's escalation timer.

A worker runs both stages (role `all`) or one (`triage`, `deliver`), each role in a consumer group of
its own (streams/pipeline/roles.py): `_Wiring` builds only the parts the role's plan names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import faust
from faust.types import EventT, StreamT
from mode import Service
from prometheus_client import CollectorRegistry

from alerts.channels import Sender, build_senders
from alerts.config import Config, HealthSettings, Topics
from alerts.directory import IncidentDirectory
from alerts.lifecycle import commands_due
from alerts.manual_check import ManualCheckMessages
from alerts.matching import ProfileIndex
from alerts.model import DeliveryRecord, IncidentCommand
from alerts.placements import PlacementRegister
from alerts.rendering import Renderer
from streams.pipeline import metrics
from streams.pipeline.acks import InOrderAcks
from streams.pipeline.checks import validated_config
from streams.pipeline.connection import SESSION_TIMEOUT_S, TABLES, changelog_topic, faust_broker_settings
from streams.pipeline.deliverer import Deliverer, DeliveryLanes, Ledger, within
from streams.pipeline.feed_snapshot import directory_feed as snapshotted_directory_feed
from streams.pipeline.follow import Follower
from streams.pipeline.identity import Registers, kafka_produce
from streams.pipeline.keyed import KeyedScheduler
from streams.pipeline.owner import ChildState, IncidentOwner, Publisher
from streams.pipeline.placements import PlacementFeed, count_rejected_placement
from streams.pipeline.pressure import ReportStamp, TriageLag
from streams.pipeline.profiles import ProfileFeed, count_rejected
from streams.pipeline.recovery import SeekThenResumeTableManager, consumer_class
from streams.pipeline.register import loopback
from streams.pipeline.roles import Role, RolePlan, plan_of
from streams.pipeline.stage import DeadLetters, Headers, OnFailure, Record, Stage
from streams.pipeline.startup import StartupRecord
from streams.web.acklinks import AckLinks
from streams.web.health import Heartbeat, Progress, Reloader, consumer_partitions, install_sighup, watch_agents
from streams.web.sessions import AuthState
from streams.web.views import register_views

log = logging.getLogger("crucial.stream")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outputs(Protocol):
    """Where agents produce. Returns once the broker has acknowledged the write."""

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None: ...


class TopicOutputs:
    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, Any] = {}

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        if topic not in self._topics:
            self._topics[topic] = self._app.topic(topic, key_serializer="raw", value_serializer="raw")
        encoded = key.encode() if key is not None else None
        pending = await self._topics[topic].send(key=encoded, value=value, headers=list(headers) or None)
        await pending


@dataclass
class Worker:
    """The app and the handles the web views, tests and the CLI need."""

    app: faust.App
    config: Config
    clock: Clock
    outputs: Outputs
    index: ProfileIndex
    feed: ProfileFeed
    directory: IncidentDirectory
    directory_feed: Follower
    registry: CollectorRegistry
    open_incidents: Any
    ledger: dict[str, DeliveryRecord]  # this worker's delivery steps (streams/pipeline/deliverer.py Ledger)
    ack_links: AckLinks
    placements: PlacementRegister  # the report form's children and who may report for each placement
    placement_feed: PlacementFeed
    registers: Registers
    auth_state: AuthState
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    progress: Progress = field(default_factory=lambda: Progress(HealthSettings()))
    reloader: Any = None  # streams.web.health.Reloader, set by create_app
    # The stages and their agents, set by create_app once the rest is built.
    owner: IncidentOwner | None = None
    deliverer: Deliverer | None = None
    triage: KeyedScheduler | None = None  # the triage agent's per-child order (streams/pipeline/keyed.py)
    triage_agent: Any = None
    deliver_agent: Any = None
    role: Role = Role.ALL  # which stages this process runs (streams/pipeline/roles.py)
    triage_lag: TriageLag = field(default_factory=TriageLag)  # holds email back while triage is behind
    # The feeds /ready waits for, by name: what this role follows (a deliver worker has no profile index).
    loading: dict[str, asyncio.Event] = field(default_factory=dict)
    startup: StartupRecord = field(default_factory=StartupRecord)  # this start's milestones, logged
    started: asyncio.Event = field(default_factory=asyncio.Event)  # every part of the start is in (see startup)

    async def command(self, command: IncidentCommand) -> None:
        """Ask the incident's owner to apply `command` (acknowledge, escalate, breach)."""
        topic = self.config.settings.kafka.topics.incident_commands
        await self.outputs.emit(topic, command.child_reference, command.model_dump_json().encode())


def create_app(  # noqa: PLR0913  (the role and four test seams, each optional and independent)
    config: Config,
    *,
    clock: Clock = utcnow,
    senders: dict[str, Sender] | None = None,
    outputs: Outputs | None = None,
    in_memory: bool = False,
    role: Role | str = Role.ALL,
) -> Worker:
    """Wire the feeds, the tables, the incident owner and the deliverer, their agents and the timer:
    those of `role` (streams/pipeline/roles.py; `all`, the default, is every one)."""
    plan = plan_of(role)
    wiring = _Wiring(config, clock, outputs, in_memory, plan)
    worker = wiring.worker()
    channel_senders = senders if senders is not None else build_senders(config) if plan.deliver else {}
    wiring.stages(worker, channel_senders)
    if plan.escalation_timer:  # one group's leader asks for escalations: triage's
        _watch_windows(worker)
    _close_on_shutdown(worker.app, channel_senders)
    _watch_health(worker, wiring.agent_topics())
    if not in_memory:
        worker.feed.chores_after = worker.started
        loads = [follower.run for follower in wiring.followers(worker)]
        worker.app.add_dependency(_StartedWithTheApp([*loads, _startup_watch(worker)]))
        register_views(worker, ingest=plan.ingest_views)
    return worker


class _Wiring:
    """create_app's steps, sharing the app, the outputs and the stage guards."""

    def __init__(self, config: Config, clock: Clock, outputs: Outputs | None, in_memory: bool, plan: RolePlan) -> None:
        self.config, self.clock, self.in_memory, self.plan = config, clock, in_memory, plan
        self.names = config.settings.kafka.topics
        self.app = _faust_app(config, in_memory, plan)
        self.out = outputs or TopicOutputs(self.app)
        # Every consumer runs each record through a stage guard (streams/pipeline/stage.py): bad records are
        # quarantined on the dead-letter topic and the stream moves on.
        self.dead_letters = DeadLetters(self.out, self.names.dead_letters, config.settings.kafka.quarantine, clock)
        self.tables = {name: _table(self.app, config, name) for name in TABLES if name in plan.tables}
        # Notifications carry their report's time, so a deliverer in another process can tell how far
        # behind triage is (streams/pipeline/pressure.py).
        self.publisher = Publisher(ReportStamp(self.out, self.names.notifications), self.names)
        self.lag = TriageLag()  # while triage is behind, email waits (streams/pipeline/pressure.py)

    def agent_topics(self) -> set[str]:
        """The topics this role's agents read (their partitions are /ready's stall watch)."""
        names = self.names
        triage = {names.placement_events, names.incident_commands} if self.plan.triage else set()
        return triage | ({names.notifications, names.delivery_status} if self.plan.deliver else set())

    def followers(self, worker: Worker) -> list[Any]:
        """The topics every worker of this role follows whole: the directory, the placement register and
        the registers, and the profile index where triage matches against it."""
        index = [worker.feed] if self.plan.profile_index else []
        return [*index, worker.directory_feed, worker.placement_feed, worker.registers.feed]

    def guard(self, name: str, on_failure: OnFailure | None = None) -> Stage:
        bound = self.config.settings.kafka.quarantine.max_record_bytes
        return Stage(name, self.dead_letters, max_record_bytes=bound, on_failure=on_failure)

    def worker(self) -> Worker:
        """The worker's feeds, tables and registers, without its stages yet."""
        config, names, app, guard = self.config, self.names, self.app, self.guard
        index = ProfileIndex(config.risk.matching, config.risk.links)  # as `crucial match` builds it
        directory = IncidentDirectory()
        placements = PlacementRegister()
        open_incidents = self.tables.get("open-incidents")  # the owner's: None where triage runs elsewhere
        auth_state = AuthState(
            loopback(names.auth_state, lambda r: auth_state.apply(r)) if self.in_memory else kafka_produce(app, names.auth_state),
            config.providers.ingest.produce_timeout_s,
        )
        registers = Registers(
            config, directory, {names.auth_state: auth_state}, guard("registers"), None if self.in_memory else app
        )
        # Read from its snapshot on: a start reads what followed, not the topics' whole history.
        directory_feed = snapshotted_directory_feed(config, directory, guard("directory"))
        # Batched fetches; a lookup that misses waits for the directory to catch up (alerts/directory.py look).
        directory_feed.batch_ms = config.settings.kafka.directory_fetch_wait_ms or None
        directory.catch_up = lambda: directory_feed.caught_up(config.providers.ingest.produce_timeout_s)
        return Worker(
            app=app,
            config=config,
            clock=self.clock,
            outputs=self.out,
            index=index,
            feed=ProfileFeed(config, index, guard("profiles", count_rejected)),
            directory=directory,
            directory_feed=directory_feed,
            registry=_registry(app, directory, self.clock, self.in_memory),
            open_incidents=open_incidents,
            ledger={},
            ack_links=AckLinks.from_config(config),
            placements=placements,
            placement_feed=PlacementFeed(config, placements, guard("placements", count_rejected_placement)),
            registers=registers,
            auth_state=auth_state,
        )

    def stages(self, worker: Worker, senders: dict[str, Sender]) -> None:
        """The incident owner and the deliverer (those of the role), and the agents that feed them."""
        worker.role = self.plan.role
        worker.triage_lag = self.lag
        worker.loading = {
            **({"profiles": worker.feed.ready} if self.plan.profile_index else {}),
            "placements": worker.placement_feed.ready,
            "registers": worker.registers.feed.ready,
            # The deliverer sends, and the escalation timer acts, only once the directory is read.
            "directory": worker.directory_feed.ready,
        }
        if self.plan.triage:
            self.triage_stage(worker)
        if self.plan.deliver:
            self.deliver_stage(worker, senders)

    def triage_stage(self, worker: Worker) -> None:
        """The incident owner, its tables, and the triage agent."""
        config, clock, tables = self.config, self.clock, self.tables
        worker.owner = IncidentOwner(
            ChildState(tables["open-incidents"], tables["opening-events"], tables["pending-claims"]),
            self.publisher,
            lambda: worker.config,  # the running config: a reload swaps it
            Renderer.from_config(config, ack_links=worker.ack_links),
            worker.index,
            worker.placements,
            worker.registers.event_ids,
            worker.feed.ready,
            ManualCheckMessages.from_config(config),
            clock,
        )
        worker.triage = KeyedScheduler("triage", config.settings.kafka.triage_concurrency)
        parts = _TriageParts(worker.owner, worker.triage, self.lag)
        worker.triage_agent = _triage_agent(self.app, self.names, parts, self.guard)

    def deliver_stage(self, worker: Worker, senders: dict[str, Sender]) -> None:
        """The deliverer, its table, and the deliver agent. Without triage in this process, the triage
        lag that holds email back is read from each notification's report stamp."""
        config, clock = self.config, self.clock
        ledger_of = Ledger(
            worker.directory, self.tables["notifications-sent"], self.out, self.names.deliveries, clock, worker.ledger
        )
        worker.deliverer = Deliverer(
            ledger_of,
            senders,
            worker.directory,
            worker.directory_feed.ready,
            self.publisher.command,
            clock,
            self.names.delivery_status,
            lanes=DeliveryLanes(hold_back=self.lag.behind),
        )
        # What the deliverer keeps beside the directory is bounded as the directory is (alerts/directory.py).
        worker.directory.on_delivery.append(ledger_of.read_back)
        worker.directory.on_forget.append(worker.deliverer.forget)
        observe = None if self.plan.triage else self.lag.observe_stamp
        parts = _DeliverParts(worker.deliverer, self.guard("deliver"), config.settings.delivery_concurrency, observe)
        worker.deliver_agent = _deliver_agent(self.app, self.names, parts)
        deliverer = worker.deliverer

        async def partitions_assigned(sender: Any, /, *_: Any, **__: Any) -> None:
            deliverer.partitions_moved()  # its next sends wait for the directory once (deliverer.py)

        self.app.on_partitions_assigned.connect(partitions_assigned)


def _table(app: faust.App, config: Config, name: str) -> Any:
    """A table whose changelog topic keeps the deployment's name (`<kafka.app_id>-<name>-changelog`,
    created with the rest by streams/pipeline/connection.py) whatever the role's app id, so its state
    survives a switch between roles. Faust names a changelog after the app id (Table._changelog_topic_name)
    unless given one: this one is faust's own topic, renamed."""
    table_class: Any = app.conf.Table  # the class app.Table makes (faust types it as a special form)
    table = table_class(app, name=name, default=None, key_type=str, value_type=str, beacon=app.tables.beacon)
    wanted = changelog_topic(config, name)
    if table.changelog_topic.get_topic_name() != wanted:  # before the table manager files it by name
        table.changelog_topic = table.changelog_topic.derive(topics=[wanted])
    return app.tables.add(table)


def _faust_app(config: Config, in_memory: bool, plan: RolePlan) -> faust.App:
    settings = config.settings
    app = faust.App(
        plan.app_id(settings.kafka.app_id),
        # The role, to the broker: a worker starting beside another role reads it (roles.py role_conflicts).
        broker_client_id=plan.client_id,
        **faust_broker_settings(config),
        store="memory://",
        datadir=str(_data_dir(config)),
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_bind=settings.web.host,
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=2.0,
        autodiscover=False,
        web_enabled=not in_memory,
        # Resumes the agents' partitions only after the post-recovery seek (see streams/pipeline/recovery.py).
        TableManager=SeekThenResumeTableManager,
    )
    # Fetches for a copy of the active partitions, waiting at most fetch_max_wait_ms (ditto); the
    # transport's class is the only hook.
    app.transport.Consumer = consumer_class(settings.kafka.fetch_max_wait_ms)  # type: ignore[misc]
    return app


def _registry(app: faust.App, directory: IncidentDirectory, clock: Clock, in_memory: bool) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.ALL:
        registry.register(collector)
    registry.register(metrics.IncidentGauges(lambda: [view.incident for view in directory.open()], clock))
    if not in_memory:  # faust's sensor on a registry of its own, served in seconds on our /metrics
        app.monitor = metrics.faust_monitor(registry)
        metrics.serve_metrics(app, registry)
    return registry


@dataclass
class _TriageParts:
    owner: IncidentOwner
    scheduler: KeyedScheduler  # one child's records in order (streams/pipeline/keyed.py)
    lag: TriageLag  # how far behind triage is, for the deliverer's lanes (streams/pipeline/pressure.py)


def _triage_agent(app: faust.App, names: Topics, parts: _TriageParts, guard: Callable[..., Stage]) -> Any:
    """Placement events and incident commands share a key (the child's reference) and partition count,
    so one agent, the single writer of each child's incident, reads both. One stage, two guards: only
    a report (not a command) that fails is sent for a manual check.

    One child's records are handled strictly in order, different children's concurrently (`scheduler`,
    streams/pipeline/keyed.py), so a report waiting on Kafka round trips (the event-id register, the
    acks=all writes) holds up only its own child. Acknowledged by hand, once handled or quarantined,
    in each partition's reading order (streams/pipeline/acks.py), so no commit passes a record in hand."""
    topic = app.topic(names.placement_events, names.incident_commands, key_serializer="raw", value_serializer="raw")
    owner, scheduler, lag = parts.owner, parts.scheduler, parts.lag
    reports, commands = guard("triage", owner.fail_open), guard("triage")

    def work(event: EventT[bytes], finished: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def handle() -> None:
            if event.message.timestamp is not None:
                lag.observe(event.message.timestamp)
            ReportStamp.during(event.message.timestamp)  # on the notifications this record leads to
            within(event)  # table writes take their changelog partition from this record
            record = Record.of(event.message)
            if record.topic == names.incident_commands:
                await commands.handle(record, owner.command)
            else:
                await reports.handle(record, owner.report)
            await finished()

        return handle

    @app.agent(topic, name="triage")
    async def triage_events(stream: StreamT[bytes]) -> None:
        manual = stream.noack()  # type: ignore[attr-defined]  # in faust, missing from StreamT
        acks: InOrderAcks[EventT[bytes]] = InOrderAcks("triage", manual.ack)
        event: EventT[bytes]
        async with scheduler.running():
            async for event in manual.events():
                finished = acks.read(event.message.tp, event)
                await scheduler.submit(event.message.key, work(event, finished))

    return triage_events


@dataclass
class _DeliverParts:
    deliverer: Deliverer
    guard: Stage
    workers: int  # send workers taking from the lanes (settings.delivery_concurrency)
    # Each record as read, (headers, Kafka timestamp): a deliver-only worker's triage lag (pressure.py).
    observe: Callable[[Any, float | None], None] | None = None


def _deliver_agent(app: faust.App, names: Topics, parts: _DeliverParts) -> Any:
    """Notifications and the providers' status reports share a key (the idempotency key): one agent
    owns each notification's ledger entry. It reads each record into the deliverer's lanes (streams/
    deliverer.py) and `workers` send workers take the most urgent first, so a slow provider stalls
    none and a first alert waits behind no email. Acknowledged by hand: only once handled, in each
    partition's reading order (streams/pipeline/acks.py).
    `parts.observe`: sees each record as read."""
    topic = app.topic(names.notifications, names.delivery_status, key_serializer="raw", value_serializer="raw")
    deliverer, guard, workers, observe = parts.deliverer, parts.guard, parts.workers, parts.observe

    @app.agent(topic, name="deliver")
    async def deliver(stream: StreamT[bytes]) -> None:
        manual = stream.noack()  # type: ignore[attr-defined]  # in faust, missing from StreamT
        acks: InOrderAcks[EventT[bytes]] = InOrderAcks("deliver", manual.ack)
        event: EventT[bytes]
        async with asyncio.TaskGroup() as group:  # a worker's crash is the agent's: it restarts
            for _ in range(workers):
                group.create_task(deliverer.lanes.serve())
            async for event in manual.events():
                if observe is not None:
                    observe(event.message.headers, event.message.timestamp)
                await deliverer.admit(event, guard, acks.read(event.message.tp, event))

    return deliver


def _watch_windows(worker: Worker) -> None:
    @worker.app.timer(interval=worker.config.escalation.tick_seconds, on_leader=True)  # type: ignore[untyped-decorator]
    async def watch_windows() -> None:
        """The leader asks each incident's owner to escalate or record a breach when due."""
        if worker.directory_feed.ready.is_set():
            for command in commands_due([view.incident for view in worker.directory.open()], worker.config, worker.clock()):
                await worker.command(command)


class _StartedWithTheApp(Service):
    """Tasks started with the app's own services, not as app tasks: faust starts those only once its
    first rebalance and table recovery are done, and /ready waits for both, so the feeds loading as app
    tasks would add their time to the group join's instead of overlapping it."""

    def __init__(self, tasks: list[Callable[[], Awaitable[None]]]) -> None:
        super().__init__()
        self.tasks = tasks

    async def on_start(self) -> None:
        for task in self.tasks:
            self.add_future(task())


def _startup_watch(worker: Worker) -> Callable[[], Awaitable[None]]:
    """The start-up record's watch: each feed as it is loaded and the first assignment, in the log."""
    assigned = asyncio.Event()

    async def first_assignment(sender: Any, /, *_: Any, **__: Any) -> None:
        assigned.set()

    worker.app.on_partitions_assigned.connect(first_assignment)

    async def watch() -> None:
        await worker.startup.watch(worker.loading, assigned)
        worker.started.set()

    return watch


def _close_on_shutdown(app: faust.App, senders: dict[str, Sender]) -> None:
    async def close_channels(sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        """After the consumer stops: SMTP sessions end with QUIT, HTTP sessions close."""
        for channel in senders.values():
            await channel.close()

    app.on_before_shutdown.connect(close_channels)


def _watch_health(worker: Worker, agent_topics: set[str]) -> None:
    """/live's heartbeat, /ready's crash and stall watch, reload on SIGHUP and POST /-/reload, and the
    build, process and index metrics."""
    app = worker.app
    worker.progress = Progress(worker.config.settings.health)
    worker.reloader = Reloader(worker, validated_config)
    watch_agents([agent for agent in (worker.triage_agent, worker.deliver_agent) if agent is not None], worker.progress)
    if "profiles" in worker.loading:  # a deliver-only worker holds no index: no gauges saying it is empty
        worker.registry.register(metrics.ProfileIndexGauges(lambda: len(worker.index), worker.feed.ready.is_set))
    for collector in metrics.PROCESS:
        worker.registry.register(collector)
    metrics.set_build_info(worker.role)

    @app.task  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        await worker.heartbeat.run()

    @app.task  # type: ignore[untyped-decorator]
    async def watch_progress() -> None:
        install_sighup(worker.reloader)
        await worker.progress.sample(lambda: consumer_partitions(app, agent_topics) if app.consumer else [])


def _data_dir(config: Config) -> Path:
    # Faust makes only the last level of its data directory (even with in-memory tables).
    path = config.path(config.settings.data_dir) / "faust"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
