"""A local single-node Apache Kafka broker (KRaft) assembled from Maven Central.

`crucial dev broker start|stop|status` and the pytest session fixture both use this module, so the
broker a developer runs is the broker the tests run. Setting KAFKA_BOOTSTRAP means "use that
cluster": nothing here is started.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

REPO_ROOT = Path(__file__).resolve().parents[1]
POM_DIR = REPO_ROOT / "ops" / "kafka"
LIBS_DIR = REPO_ROOT / ".cache" / "kafka" / "libs"
DEFAULT_STATE_DIR = REPO_ROOT / ".cache" / "kafka" / "dev"


class BrokerError(RuntimeError):
    """The local broker could not be assembled, started or reached."""


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
    """One broker+controller process on 127.0.0.1, its data, log and pid under `state_dir`."""

    state_dir: Path = DEFAULT_STATE_DIR
    port: int = 9092
    heap: str = "512m"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

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
        controller = self.port + 1
        self._properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.state_dir / 'data'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    # A single local node: start consumer groups at once instead of waiting 3 s.
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=168",
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
        if self.pid() is not None:
            self._wait_ready(began, timeout_s)
            return time.monotonic() - began
        self._write_config()
        if not (self.state_dir / "data" / "meta.properties").exists():
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--ignore-formatted",
                    "-t",
                    _cluster_id(),
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
        self._wait_ready(began, timeout_s)
        return time.monotonic() - began

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


def _reap(pid: int) -> None:
    # When this process started the broker, collect the zombie so kill(pid, 0) reports it gone.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
