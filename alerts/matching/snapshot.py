"""The profile index as bytes: a snapshot a worker writes after loading the profiles topic (and on a
clean stop) and loads at the next start instead of rebuilding, when it is provably current.

Pure: bytes in, bytes out; the file and the topic's offsets are streams/pipeline/profile_snapshot.py's.
No pickle: a documented layout of JSON and fixed-width integer arrays (docs/operations.md).

    MAGIC, header length (u32, little-endian), header (JSON), payload, SHA-256 of everything before it

The header names the format version, the fingerprint of the code and settings that shape the index,
the topic and the partition offsets the snapshot covers, the last record applied on each partition
(offset and digest) and when it was written. The payload holds the index's state in sections, each
a u64 length then its bytes:

1. slots: JSON {"ids", "forms", "dobs", "rest": one entry per slot (a free slot's id is null), "free":
   the free slots in the order they are reused};
2. blob lengths: u32 array, one per slot (0 for a free slot);
3. blobs: the compressed profiles, concatenated;
4. single postings: u64 keys, then i32 slots (a key held by one profile);
5. shared postings: their number (u64), u64 keys, u32 sizes, then i32 slots (a key held by several);
6. counts: JSON {"profiles": {nationality: n}, "sounds": [nationality, key, n, nationality, key, n, ...]}.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any

from alerts.matching.index import ProfileIndex
from alerts.matching.storage import _inflate

FORMAT = 1
MAGIC = b"CRUCIAL-PROFILE-INDEX\n"
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_DIGEST = DIGEST_SIZE = 32
# What ProfileIndex holds. A new attribute must be added here (and FORMAT raised) before a snapshot
# can be written: otherwise a loaded index would silently lack it.
STATE = frozenset({"_tuned", "_slot_of", "_ids", "_blobs", "_records", "_free", "_postings", "_profiles_of", "_sound_count"})
_LITTLE = sys.byteorder == "little"


class SnapshotRejected(Exception):
    """A snapshot that must not be loaded. `reason` is a short label (a metric label, no values)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Coverage:
    """Which records of the profiles topic the snapshot holds: every record before `offsets[p]` on
    each partition p; `last[p]` is the digest of the last of them (offset, key and value)."""

    topic: str
    offsets: dict[int, int]
    last: dict[int, str] = field(default_factory=dict)
    written_at: datetime | None = None


def record_digest(offset: int, key: bytes | None, value: bytes | None) -> str:
    """What identifies one record of the topic: a topic deleted and made again fails this check."""
    digest = hashlib.sha256(_U64.pack(offset))
    for part in (key, value):
        digest.update(b"\x00" if part is None else b"\x01" + _U64.pack(len(part)) + part)
    return digest.hexdigest()


def fingerprint(sources: Iterable[tuple[str, bytes]], settings: str) -> str:
    """SHA-256 of the snapshot format, the code (name and bytes of each source) and the settings
    that shape the index: any change to them means a rebuild, never a stale snapshot."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for name, data in sorted(sources):
        digest.update(f"{name}\x00{len(data)}\x00".encode())
        digest.update(data)
    digest.update(settings.encode())
    return digest.hexdigest()


# --- writing --------------------------------------------------------------------------------------


def encode(index: ProfileIndex, coverage: Coverage, fingerprint: str) -> bytes:
    """The index and what it covers as one snapshot."""
    held = set(vars(index))
    if held != STATE:
        raise SnapshotRejected("unsupported", f"the index holds {sorted(held ^ STATE)} the snapshot format does not know")
    payload = _sections(index)
    header = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "topic": coverage.topic,
        "offsets": {str(p): o for p, o in sorted(coverage.offsets.items())},
        "last": {str(p): d for p, d in sorted(coverage.last.items())},
        "written_at": coverage.written_at.isoformat() if coverage.written_at else None,
        "profiles": len(index),
    }
    return framed(MAGIC, header, payload)


def _sections(index: ProfileIndex) -> list[bytes]:
    records = [record or ("", 0, "") for record in index._records]
    table = {  # flat lists (no list per slot): quick to parse, nothing for the garbage collector to walk
        "ids": index._ids,
        "forms": [forms for forms, _, _ in records],
        "dobs": [dob for _, dob, _ in records],
        "rest": [rest for _, _, rest in records],
        "free": index._free,
    }
    lengths = array("I", [len(blob) if blob is not None else 0 for blob in index._blobs])
    single_keys, single_slots = array("Q"), array("i")
    shared_keys, shared_sizes, shared_slots = array("Q"), array("I"), array("i")
    for key, posting in index._postings.items():
        if isinstance(posting, int):
            single_keys.append(key)
            single_slots.append(posting)
        else:
            shared_keys.append(key)
            shared_sizes.append(len(posting) // 4)
            shared_slots.frombytes(bytes(posting))
    counts = {
        "profiles": dict(index._profiles_of),
        "sounds": [part for (group, code), n in index._sound_count.items() if n for part in (group, code, n)],
    }
    parts = [
        json.dumps(table, separators=(",", ":")).encode(),
        _little(lengths),
        b"".join(blob for blob in index._blobs if blob is not None),
        _little(single_keys) + _little(single_slots),
        _U64.pack(len(shared_keys)) + _little(shared_keys) + _little(shared_sizes) + _little(shared_slots),
        json.dumps(counts, separators=(",", ":")).encode(),
    ]
    return [_U64.pack(len(part)) + part for part in parts]


def _little(values: array[Any]) -> bytes:
    if not _LITTLE:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _native(typecode: str, data: bytes | memoryview) -> array[Any]:
    values = array(typecode)
    values.frombytes(data)
    if not _LITTLE:
        values.byteswap()
    return values


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """A snapshot that passed its checks, ready to `restore` into an index."""

    coverage: Coverage
    profiles: int
    _state: dict[str, Any]


def framed(magic: bytes, header: dict[str, Any], payload: Iterable[bytes]) -> bytes:
    """MAGIC, header length (u32, little-endian), header (JSON), payload, SHA-256 of everything before it."""
    head = json.dumps(header, sort_keys=True).encode()
    body = b"".join([magic, _U32.pack(len(head)), head, *payload])
    return body + hashlib.sha256(body).digest()


def read_header(data: bytes, magic: bytes = MAGIC, what: str = "profile index snapshot") -> dict[str, Any]:
    """The header alone (after the integrity checks): what `crucial` tools and logs may show. Its
    `_payload_at` is where the payload starts; the payload ends `DIGEST_SIZE` bytes before the end."""
    if len(data) < len(magic) + _U32.size + _DIGEST or not data.startswith(magic):
        raise SnapshotRejected("not_a_snapshot", f"the file does not start like a {what}")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise SnapshotRejected("checksum", "the checksum does not match the contents (torn or corrupt file)")
    (length,) = _U32.unpack_from(body, len(magic))
    start = len(magic) + _U32.size
    try:
        header = json.loads(body[start : start + length])
    except ValueError as exc:
        raise SnapshotRejected("corrupt", f"the header is not JSON ({type(exc).__name__})") from exc
    if not isinstance(header, dict):
        raise SnapshotRejected("corrupt", "the header is not a JSON object")
    header["_payload_at"] = start + length
    return header


def decode(data: bytes, expected_fingerprint: str) -> Loaded:
    """Check and read a snapshot; raises SnapshotRejected with the reason it may not be used."""
    header = read_header(data)
    if header.get("format") != FORMAT:
        raise SnapshotRejected("format", f"format {header.get('format')!r}, this release reads {FORMAT}")
    if header.get("fingerprint") != expected_fingerprint:
        raise SnapshotRejected("fingerprint", "written by other matching code or settings")
    try:
        coverage = Coverage(
            topic=str(header["topic"]),
            offsets={int(p): int(o) for p, o in header["offsets"].items()},
            last={int(p): str(d) for p, d in header["last"].items()},
            written_at=datetime.fromisoformat(header["written_at"]) if header.get("written_at") else None,
        )
        state = _state(memoryview(data)[header["_payload_at"] : -_DIGEST])
    except (KeyError, TypeError, ValueError, AttributeError, struct.error) as exc:
        raise SnapshotRejected("corrupt", f"the contents do not read as a snapshot ({type(exc).__name__})") from exc
    if len(state["_slot_of"]) != header.get("profiles"):
        raise SnapshotRejected("corrupt", "the number of profiles does not agree with the header")
    return Loaded(coverage, len(state["_slot_of"]), state)


def _split(payload: memoryview, count: int) -> list[memoryview]:
    parts, at = [], 0
    for _ in range(count):
        (length,) = _U64.unpack_from(payload, at)
        at += _U64.size
        if at + length > len(payload):
            raise ValueError("a section runs past the end")
        parts.append(payload[at : at + length])
        at += length
    if at != len(payload):
        raise ValueError("bytes after the last section")
    return parts


def _state(payload: memoryview) -> dict[str, Any]:
    slots_json, lengths_raw, blobs, singles, shared, counts_json = _split(payload, 6)
    table = json.loads(bytes(slots_json))
    ids: list[str | None] = table["ids"]
    free_order = [int(slot) for slot in table["free"]]
    lengths = _native("I", lengths_raw)
    if not len(lengths) == len(ids) == len(table["forms"]) == len(table["dobs"]) == len(table["rest"]):
        raise ValueError("the slot lists disagree in length")
    if not all(type(i) is str for i in ids if i is not None):
        raise ValueError("a profile id is not a string")
    records: list[tuple[str, int, str] | None] = [
        None if profile_id is None else (str(forms), int(dob), sys.intern(str(rest)))
        for profile_id, forms, dob, rest in zip(ids, table["forms"], table["dobs"], table["rest"], strict=True)
    ]
    raw = bytes(blobs)
    ends = list(accumulate(lengths))
    blob_list: list[bytes | None] = [
        None if profile_id is None else raw[end - length : end]
        for profile_id, length, end in zip(ids, lengths, ends, strict=True)
    ]
    free = [slot for slot, profile_id in enumerate(ids) if profile_id is None]
    if (ends[-1] if ends else 0) != len(raw) or sorted(free) != sorted(free_order):
        raise ValueError("blob lengths or free slots disagree with the slots")
    counts = json.loads(bytes(counts_json))
    return {
        "_slot_of": {profile_id: slot for slot, profile_id in enumerate(ids) if profile_id is not None},
        "_ids": ids,
        "_blobs": blob_list,
        "_records": records,
        "_free": free_order,  # in the order upsert takes them, so later slots are the same as in the writer
        "_postings": _postings(singles, shared, len(ids)),
        "_profiles_of": Counter({str(k): int(v) for k, v in counts["profiles"].items()}),
        "_sound_count": _sound_counts(counts["sounds"]),
    }


def _sound_counts(flat: list[Any]) -> Counter[tuple[str, str]]:
    if len(flat) % 3:
        raise ValueError("the name counts are not whole")
    groups, codes, counts = flat[0::3], flat[1::3], flat[2::3]
    return Counter({(str(g), str(c)): int(n) for g, c, n in zip(groups, codes, counts, strict=True)})


def _postings(singles: memoryview, shared: memoryview, slot_count: int) -> dict[int, int | bytearray]:
    if len(singles) % 12:
        raise ValueError("single postings are not whole")
    half = len(singles) // 12 * 8
    keys, slots = _native("Q", singles[:half]), _native("i", singles[half:])
    postings: dict[int, int | bytearray] = dict(zip(keys.tolist(), slots.tolist(), strict=True))
    (count,) = _U64.unpack_from(shared, 0)
    shared_keys = _native("Q", shared[8 : 8 + 8 * count]).tolist()
    sizes = _native("I", shared[8 + 8 * count : 8 + 12 * count]).tolist()
    shared_slots = _native("i", shared[8 + 12 * count :])
    if len(shared_keys) != count or len(sizes) != count or sum(sizes) != len(shared_slots):
        raise ValueError("shared postings are not whole")
    for every in (slots, shared_slots):
        if every and (min(every) < 0 or max(every) >= slot_count):
            raise ValueError("a posting names a slot that does not exist")
    slot_bytes = shared_slots.tobytes()  # native order, as ProfileIndex packs them
    at = 0
    for key, size in zip(shared_keys, sizes, strict=True):
        postings[key] = bytearray(slot_bytes[at : at + 4 * size])
        at += 4 * size
    return postings


def restore(index: ProfileIndex, loaded: Loaded) -> None:
    """Replace the index's contents with the snapshot's (its settings stay the index's own)."""
    for name, value in loaded._state.items():
        setattr(index, name, value)


def stored_indicators(index: ProfileIndex) -> Iterator[list[str]]:
    """Each held profile's indicator texts, from its stored JSON (validated when it was stored):
    far cheaper than the model, for the counts a load skips. Reads a copy of the slot list, so
    profiles stored meanwhile are not seen twice."""
    for blob in list(index._blobs):
        if blob is not None:
            yield list(json.loads(_inflate(blob)).get("indicators", []))


@dataclass(frozen=True)
class TopicExtent:
    """A topic as it is now: its name and, per partition, its first and next offsets."""

    topic: str
    beginning: dict[int, int]
    end: dict[int, int]


def coverage_problem(coverage: Coverage, extent: TopicExtent, now: datetime, max_age_s: float) -> SnapshotRejected | None:
    """Why a snapshot that read well does not cover this topic as it is now (None: it does).

    It must be of the same topic and partitions; on each partition it must cover no more than the topic
    holds (else the topic was made again or cut) and no less than its first offset (else records it
    lacks are gone); and it must be younger than the time compaction keeps a deletion (older, and a
    profile deleted since could have lost its tombstone: the snapshot would keep it)."""
    topic, beginning, end = extent.topic, extent.beginning, extent.end
    if coverage.topic != topic:
        return SnapshotRejected("topic", f"written for another topic than {topic}")
    if set(coverage.offsets) != set(end):
        return SnapshotRejected("partitions", f"covers {len(coverage.offsets)} partition(s), the topic has {len(end)}")
    for partition, offset in sorted(coverage.offsets.items()):
        if offset > end[partition]:
            return SnapshotRejected(
                "offsets_ahead", f"partition {partition}: covers up to {offset}, the topic ends at {end[partition]}"
            )
        if offset < beginning.get(partition, 0):
            return SnapshotRejected(
                "offsets_behind", f"partition {partition}: covers up to {offset}, the topic now starts at {beginning[partition]}"
            )
    if coverage.written_at is None or not 0 <= (now - coverage.written_at).total_seconds() <= max_age_s:
        return SnapshotRejected("stale", f"written more than {max_age_s:.0f} s ago (or in the future)")
    return None
