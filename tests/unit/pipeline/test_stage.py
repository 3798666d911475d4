"""The stage guard (streams/pipeline/stage.py): any failure quarantines the record, bounded, and the stage goes on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from alerts.config import Quarantine
from alerts.intake import parse_event
from alerts.model import DeadLetter, Notification
from streams.pipeline import metrics
from streams.pipeline.stage import DeadLetters, Headers, Record, Stage

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


class Captured:
    def __init__(self) -> None:
        self.written: list[tuple[str, str | None, bytes]] = []

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        self.written.append((topic, key, value))


def stage(on_failure=None, max_raw_bytes: int = 1024, max_record_bytes: int = 4096):  # type: ignore[no-untyped-def]
    out = Captured()
    letters = DeadLetters(out, "dead", Quarantine(max_raw_bytes=max_raw_bytes, max_record_bytes=max_record_bytes), lambda: NOW)
    return Stage("deliver", letters, max_record_bytes=max_record_bytes, on_failure=on_failure), out


def record(value: bytes | None, offset: int = 7) -> Record:
    return Record("notifications", 1, offset, b"key-1", value)


def run(guard: Stage, rec: Record, handler) -> bool:  # type: ignore[no-untyped-def]
    return asyncio.run(guard.handle(rec, handler))


def letter_of(out: Captured) -> DeadLetter:
    assert len(out.written) == 1
    topic, key, value = out.written[0]
    assert topic == "dead" and key == "notifications:1:7"
    return DeadLetter.model_validate_json(value)


@pytest.mark.parametrize(
    ("raw", "reason_class"),
    [
        (b"\xff\xfe\x00", "not_json"),  # pydantic reads bytes as JSON: invalid
        (b"{not json", "not_json"),
        (b'{"idempotency_key": 3}', "schema"),
        (b"[]", "schema"),
    ],
)
def test_undecodable_and_wrong_shape_records_are_quarantined(raw: bytes, reason_class: str) -> None:
    guard, out = stage()
    before = metrics.DEAD_LETTERS.labels("deliver", reason_class)._value.get()
    assert run(guard, record(raw), lambda r: Notification.model_validate_json(r.value or b"")) is False
    letter = letter_of(out)
    assert (letter.stage, letter.source_topic, letter.partition, letter.offset) == ("deliver", "notifications", 1, 7)
    assert letter.reason_class == reason_class and letter.exception == "ValidationError"
    assert base64.b64decode(letter.raw_base64) == raw and letter.raw_length == len(raw) and not letter.truncated
    assert letter.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert metrics.DEAD_LETTERS.labels("deliver", reason_class)._value.get() == before + 1


def test_an_oversized_record_is_not_decoded_and_its_letter_is_bounded() -> None:
    guard, out = stage(max_raw_bytes=256, max_record_bytes=2048)
    raw = b"\xff" * 1_000_000
    called: list[object] = []
    assert run(guard, record(raw), called.append) is False
    assert called == []
    letter = letter_of(out)
    assert letter.reason_class == "too_large" and letter.truncated and letter.raw_length == 1_000_000
    assert len(base64.b64decode(letter.raw_base64)) == 256
    assert len(out.written[0][2]) < 4096  # always writable, whatever the record held
    assert letter.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_a_processing_fault_names_where_not_what() -> None:
    guard, out = stage()

    def crash(r: Record) -> None:
        raise KeyError("Minh Tran 2010-01-01")  # a value in the message must not reach the letter

    assert run(guard, record(b"{}"), crash) is False
    letter = letter_of(out)
    assert letter.reason_class == "processing" and letter.exception == "KeyError"
    assert "test_stage.py" in letter.reasons[0] and "crash" in letter.reasons[0]
    assert "Minh" not in out.written[0][2].decode()


def test_invalid_values_are_never_quoted_in_reasons() -> None:
    guard, out = stage(max_record_bytes=262144, max_raw_bytes=256)
    bad = {"event_id": "e1", "type": "left_placement", "child": {"given_names": "Minh", "favourite": "Tran"}}
    assert run(guard, record(json.dumps(bad).encode()), lambda r: parse_event(r.value or b"")) is False
    letter = letter_of(out)
    assert letter.reason_class == "schema" and letter.exception == "RejectedInput"
    assert not any("Minh" in r or "Tran" in r for r in letter.reasons)


def test_success_writes_nothing_and_async_handlers_are_awaited() -> None:
    guard, out = stage()
    seen: list[bytes | None] = []

    async def handler(r: Record) -> None:
        await asyncio.sleep(0)
        seen.append(r.value)

    assert run(guard, record(b"ok"), handler) is True
    assert seen == [b"ok"] and out.written == []


def test_the_fail_open_step_runs_before_the_record_is_quarantined_even_if_it_fails() -> None:
    order: list[str] = []

    async def fail_open(r: Record, exc: Exception) -> None:
        order.append(f"fail_open:{type(exc).__name__}")
        raise RuntimeError("the fail-open step itself failed")

    guard, out = stage(on_failure=fail_open)
    assert run(guard, record(b"{}"), lambda r: 1 / 0) is False
    order.append("quarantined" if out.written else "lost")
    assert order == ["fail_open:ZeroDivisionError", "quarantined"]


def test_cancellation_is_never_swallowed() -> None:
    guard, out = stage()

    async def cancelled(r: Record) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        run(guard, record(b"{}"), cancelled)
    assert out.written == []


def test_a_huge_key_counts_towards_the_bound_and_is_kept_bounded() -> None:
    guard, out = stage(max_record_bytes=2048)
    called: list[Record] = []
    assert run(guard, Record("notifications", 1, 7, b"k" * 900_000, b"{}"), called.append) is False
    letter = letter_of(out)
    assert called == [] and letter.reason_class == "too_large"
    assert len(base64.b64decode(letter.key_base64 or "")) == 256
