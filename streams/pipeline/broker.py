"""A local Apache Kafka broker (KRaft) assembled from Maven Central, alone or as a cluster of three.

`crucial dev broker start|stop|status`, `crucial dev cluster start|stop|status` and the pytest
fixtures all use this module, so the broker a developer runs is the broker the tests run. Setting
KAFKA_BOOTSTRAP means "use that cluster": nothing here is started.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

REPO_ROOT = Path(__file__).resolve().parents[2]
POM_DIR = REPO_ROOT / "ops" / "kafka"
LIBS_DIR = REPO_ROOT / ".cache" / "kafka" / "libs"
DEFAULT_STATE_DIR = REPO_ROOT / ".cache" / "kafka" / "dev"
DEFAULT_CLUSTER_DIR = REPO_ROOT / ".cache" / "kafka" / "cluster"
DEFAULT_CLUSTER_PORT = 29092


class BrokerError(RuntimeError):
    """The local broker could not be assembled, started or reached."""


# A cluster's nodes on one machine: notice a dead node in seconds rather than Kafka's 9 s / 30 s, but
# not so soon that a busy machine's pauses fence healthy nodes.
_CLUSTER_TIMING = (
    "broker.heartbeat.interval.ms=1000",
    "broker.session.timeout.ms=6000",
    "replica.lag.time.max.ms=10000",
)


def ensure_jars(libs_dir: Path = LIBS_DIR) -> Path:
    """Copy the Kafka jars from Maven Central into the ignored cache, once."""
    if any(libs_dir.glob("kafka_2.13-*.jar")):
        return libs_dir
    cmd = ["mvn", "-B", "-q", "dependency:copy-dependencies", f"-DoutputDirectory={libs_dir}"]
    try:
        subprocess.run(cmd, cwd=POM_DIR, check=True)
    except FileNotFoundError as exc:
        raise BrokerError("Maven (mvn) is not on PATH: install Maven 3 and JDK 17+") from exc
    except subprocess.CalledProcessError as exc:
        raise BrokerError(f"fetching Kafka jars failed: {' '.join(cmd)} exited {exc.returncode}") from exc
    return libs_dir


def _cluster_id() -> str:
    """A base64url-encoded 16-byte UUID without padding, as KRaft wants; never starting with "-",
    which the storage tool would read as an option (Kafka's own Uuid.randomUuid avoids it too)."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


@dataclass(frozen=True)
class LocalBroker:
    """One broker+controller process on 127.0.0.1, its data, log and pid under `state_dir`: alone
    (the defaults), or node `node_id` of a combined-mode cluster whose controller voters are `quorum`."""

    state_dir: Path = DEFAULT_STATE_DIR
    port: int = 9092
    heap: str = "512m"
    node_id: int = 1
    quorum: str | None = None  # controller.quorum.voters; None: this node alone
    cluster_id: str | None = None  # shared by a cluster's nodes; None: a fresh one at format time
    replication: int = 1  # default.replication.factor and the internal topics'
    min_insync: int = 1  # min.insync.replicas unless a topic sets its own

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def voter(self) -> str:
        return f"{self.node_id}@127.0.0.1:{self.controller_port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "server.log"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def _properties(self) -> Path:
        return self.state_dir / "server.properties"

    def _write_config(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        controller = self.controller_port
        self._properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    f"controller.quorum.voters={self.quorum or self.voter}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.state_dir / 'data'}",
                    "num.partitions=1",
                    f"default.replication.factor={self.replication}",
                    f"min.insync.replicas={self.min_insync}",
                    f"offsets.topic.replication.factor={self.replication}",
                    "offsets.topic.num.partitions=4",
                    f"transaction.state.log.replication.factor={self.replication}",
                    f"transaction.state.log.min.isr={self.min_insync}",
                    # A local node: start consumer groups at once instead of waiting 3 s.
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=168",
                    *(_CLUSTER_TIMING if self.quorum else ()),
                    "",
                ]
            )
        )
        (self.state_dir / "log4j.properties").write_text(
            "\n".join(
                [
                    "log4j.rootLogger=INFO, file",
                    "log4j.appender.file=org.apache.log4j.FileAppender",
                    f"log4j.appender.file.File={self.log_file}",
                    "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
                    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
                    "log4j.logger.kafka.request.logger=WARN",
                    "log4j.logger.state.change.logger=WARN",
                    "",
                ]
            )
        )

    def _java(self, main: str, *args: str) -> list[str]:
        classpath = os.pathsep.join(str(p) for p in sorted(ensure_jars().glob("*.jar")))
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.state_dir / 'log4j.properties'}",
            "-cp",
            classpath,
            main,
            *args,
        ]

    def pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def answers(self, timeout_s: float = 2.0) -> bool:
        """True when the broker answers a metadata request."""
        with _client_quiet():
            return self._answers(timeout_s)

    def _answers(self, timeout_s: float) -> bool:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                request_timeout_ms=int(timeout_s * 1000),
            )
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()

    def start(self, timeout_s: float = 90.0) -> float:
        """Start (formatting storage on first use) and wait until it answers; returns seconds taken."""
        began = time.monotonic()
        self.launch()
        self._wait_ready(began, timeout_s)
        return time.monotonic() - began

    def launch(self) -> None:
        """Start the process (formatting storage on first use) without waiting for it: a cluster's
        nodes answer only once a majority of the controller quorum is up."""
        if self.pid() is not None:
            return
        self._write_config()
        if not (self.state_dir / "data" / "meta.properties").exists():
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--ignore-formatted",
                    "-t",
                    self.cluster_id or _cluster_id(),
                    "-c",
                    str(self._properties),
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        with open(self.state_dir / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self._properties)),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file.write_text(str(proc.pid))

    def _wait_ready(self, began: float, timeout_s: float) -> None:
        while time.monotonic() - began < timeout_s:
            if self.pid() is None:
                raise BrokerError(f"the broker exited during start-up; see {self.state_dir / 'stdout.log'}")
            if self.answers():
                return
            time.sleep(0.3)
        raise BrokerError(f"the broker did not answer within {timeout_s:.0f} s; see {self.log_file}")

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop cleanly (SIGTERM, then SIGKILL after `timeout_s`); False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            _reap(pid)
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> bool:
        """SIGKILL: no controlled shutdown, no leadership handed over (a crash); False when not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _reap(pid)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self._pid_file.unlink(missing_ok=True)
        return True


@contextlib.contextmanager
def _client_quiet() -> Iterator[None]:
    """Probing nodes that are still starting (or just killed) is expected to be refused: the client's
    ERROR lines about it would only alarm whoever reads the output."""
    client = logging.getLogger("kafka")
    level = client.level
    client.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client.setLevel(level)


def _reap(pid: int) -> None:
    # When this process started the broker, collect the zombie so kill(pid, 0) reports it gone.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@dataclass(frozen=True)
class LocalCluster:
    """`size` combined broker+controller nodes on 127.0.0.1 from the same jars: node n (from 1) listens
    for clients on `port + 2(n-1)` and for its controller on the next port. Topics default to
    replication min(3, size) and min.insync.replicas one less (at least 1)."""

    state_dir: Path = DEFAULT_CLUSTER_DIR
    port: int = DEFAULT_CLUSTER_PORT
    size: int = 3
    heap: str = "384m"

    @property
    def replication(self) -> int:
        return min(3, self.size)

    @property
    def min_insync(self) -> int:
        return max(1, self.replication - 1)

    @property
    def nodes(self) -> list[LocalBroker]:
        cluster_id = self._cluster_id()
        ids = range(1, self.size + 1)
        quorum = ",".join(f"{n}@127.0.0.1:{self.port + 2 * (n - 1) + 1}" for n in ids)
        return [
            LocalBroker(
                state_dir=self.state_dir / f"node-{n}",
                port=self.port + 2 * (n - 1),
                heap=self.heap,
                node_id=n,
                quorum=quorum,
                cluster_id=cluster_id,
                replication=self.replication,
                min_insync=self.min_insync,
            )
            for n in ids
        ]

    def node(self, node_id: int) -> LocalBroker:
        return self.nodes[node_id - 1]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def _cluster_id(self) -> str:
        # Kept beside the nodes, so that every node is formatted with it and restarts find it again.
        path = self.state_dir / "cluster.id"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(_cluster_id())
        return path.read_text().strip()

    def start(self, timeout_s: float = 180.0) -> float:
        """Start every node that is not running and wait until all have registered; seconds taken."""
        began = time.monotonic()
        for node in self.nodes:
            node.launch()
        self.wait_registered(timeout_s - (time.monotonic() - began))
        return time.monotonic() - began

    def stop(self, timeout_s: float = 30.0) -> int:
        """Stop every node cleanly, all at once (one by one, the last would wait for a quorum that has
        gone); returns how many were running."""
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            return sum(pool.map(lambda node: node.stop(timeout_s), self.nodes))

    def _admin(self) -> KafkaAdminClient:
        running = [node.bootstrap for node in self.nodes if node.pid() is not None]
        if not running:
            raise BrokerError(f"no node of the cluster under {self.state_dir} is running")
        return KafkaAdminClient(bootstrap_servers=running, request_timeout_ms=5000)

    def registered(self) -> set[int]:
        """Node ids that answer on their own listener and that the cluster lists as live brokers."""
        with _client_quiet():
            return self._registered()

    def _registered(self) -> set[int]:
        try:
            admin = self._admin()
        except (KafkaError, BrokerError):
            return set()
        try:
            listed = {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"]}
        except KafkaError:
            return set()
        finally:
            admin.close()
        # A node killed a moment ago is still listed until its session times out: ask it too.
        return {node.node_id for node in self.nodes if node.node_id in listed and node.answers()}

    def wait_registered(self, timeout_s: float = 120.0, nodes: set[int] | None = None) -> None:
        want = nodes if nodes is not None else {node.node_id for node in self.nodes}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [n for n in self.nodes if n.node_id in want and n.pid() is None]
            if dead:
                raise BrokerError(f"node {dead[0].node_id} exited during start-up; see {dead[0].state_dir / 'stdout.log'}")
            if want <= self.registered():
                return
            time.sleep(0.3)
        raise BrokerError(f"nodes {sorted(want - self.registered())} did not register within {timeout_s:.0f} s")

    def _partitions(self, topics: list[str] | None = None, timeout_s: float = 30.0) -> list[tuple[str, dict[str, Any]]]:
        # The metadata still lists a node killed a moment ago, and the client may pick it: ask again.
        deadline = time.monotonic() + timeout_s
        while True:
            admin = self._admin()
            try:
                return [(topic["name"], part) for topic in admin.describe_topics(topics) for part in topic["partitions"]]
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
            finally:
                admin.close()
            time.sleep(0.3)

    def partitions(self, topics: list[str], timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """The partitions of `topics` as a node describes them, once it knows every one of them (a new
        topic's metadata reaches each node a moment after the controller has it)."""
        deadline = time.monotonic() + timeout_s
        while True:
            described = self._partitions(topics)
            if {name for name, _ in described} >= set(topics) or time.monotonic() > deadline:
                return [part for _, part in described]
            time.sleep(0.2)

    def under_replicated(self) -> list[str]:
        """'topic/partition' for every partition whose in-sync replicas are fewer than its replicas."""
        return [
            f"{name}/{part['partition_index']}"
            for name, part in self._partitions()
            if len(part["isr_nodes"]) < len(part["replica_nodes"])
        ]

    def wait_in_sync(self, timeout_s: float = 120.0) -> None:
        """Until every partition has all its replicas in sync again (after a node came back)."""
        deadline = time.monotonic() + timeout_s
        behind: list[str] = ["(not asked yet)"]
        while time.monotonic() < deadline:
            with contextlib.suppress(KafkaError):  # a node still opening its listener
                behind = self.under_replicated()
                if not behind:
                    return
            time.sleep(0.5)
        raise BrokerError(f"partitions still under-replicated after {timeout_s:.0f} s: {behind[:5]}")

    def leader(self, topic: str, partition: int = 0) -> int:
        """The node id leading `topic`'s `partition` now."""
        return next(int(p["leader_id"]) for p in self.partitions([topic]) if p["partition_index"] == partition)
