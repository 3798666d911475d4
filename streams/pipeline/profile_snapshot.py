"""The profile index snapshot on disk: where it lives, the fingerprint of what shapes the index, and
reading and writing the file (atomically: a crash leaves the old file or the new, never half of one).

The bytes and the rules are alerts/matching/snapshot.py's; docs/operations.md says how to force a rebuild.
`SnapshotFile` (the atomic file) serves the incident directory's snapshot too (streams/pipeline/feed_snapshot.py).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from functools import cached_property
from importlib import metadata
from pathlib import Path

import alerts
from alerts.config import Config
from alerts.matching.snapshot import Loaded, SnapshotRejected, decode, fingerprint

# Kafka keeps a deletion's tombstone on a compacted topic for delete.retention.ms (24 h by default)
# once it is compacted; a snapshot older than that could miss a deletion whose tombstone has gone.
# Half of the default, so a worker that has been down longer than this rebuilds from the topic.
MAX_AGE_S = 12 * 3600.0
# The libraries whose behaviour decides a profile's keys and stored form: a new release of one rebuilds.
LIBRARIES = (
    "pydantic",
    "pydantic-core",
    "email-validator",
    "jellyfish",
    "phonenumbers",
    "pycountry",
    "rapidfuzz",
    "unidecode",
    "nicknames",
    "xxhash",
)


def snapshot_path(config: Config) -> Path:
    """In the worker's data directory, named after the profiles topic it was built from."""
    return config.path(config.settings.data_dir) / f"profile-index.{safe_name(config.settings.kafka.topics.profiles)}.snapshot"


def safe_name(topic: str) -> str:
    """A topic's name as part of a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", topic)


def index_fingerprint(config: Config) -> str:
    """Every module of the domain (any change to alerts/ is a new index), the libraries above, the
    Python version and the matching settings: a snapshot from anything else is never loaded."""
    root = Path(alerts.__file__).resolve().parent
    sources = [(str(path.relative_to(root)), path.read_bytes()) for path in sorted(root.rglob("*.py"))]
    versions = "\n".join(f"{name} {_version(name)}" for name in LIBRARIES)
    risk = config.risk
    settings = f"{sys.version}\n{sys.byteorder}\n{versions}\n{risk.matching.model_dump_json()}\n{risk.links.model_dump_json()}"
    return fingerprint(sources, settings)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


class SnapshotFile:
    def __init__(self, path: Path, fingerprint_of: Callable[[], str]) -> None:
        self.path, self._fingerprint_of = path, fingerprint_of

    @classmethod
    def of(cls, config: Config) -> SnapshotFile:
        return cls(snapshot_path(config), lambda: index_fingerprint(config))

    @cached_property
    def fingerprint(self) -> str:
        return self._fingerprint_of()

    def read(self) -> Loaded:
        """The snapshot, checked; SnapshotRejected says why not (missing, unreadable, torn, stale code...)."""
        return decode(self.read_bytes(), self.fingerprint)

    def read_bytes(self) -> bytes:
        """The file as it is, unchecked; SnapshotRejected when there is none or it cannot be read."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError as exc:
            raise SnapshotRejected("missing", "no snapshot yet") from exc
        except OSError as exc:
            raise SnapshotRejected("unreadable", f"{type(exc).__name__}: {exc.strerror}") from exc

    def write(self, data: bytes) -> None:
        """Write to a temporary file beside it, flush to disk, then rename over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
