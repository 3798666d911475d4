"""What pydantic costs on the internal hops: decode, encode and construct a notification and a
delivery record, in process (timeit, best of three).

    .venv/bin/python -m ops.bench.bench_models
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from alerts.model import DeliveryRecord, Notification, Priority, Recipient, RenderedMessage

NOW = datetime.now(UTC)
NOTE = Notification(
    idempotency_key="k" * 32,
    incident_id="inc-1234567890",
    incident_reference="CH-4K7QX2",
    child_reference="LA-1234",
    kind="alert",
    channel="email",
    recipient=Recipient(agency_id="met-police", name="Duty Sergeant", address="duty@met.police.example"),
    message=RenderedMessage(subject="Missing child CH-4K7QX2", text="x" * 1500, html="<p>" + "y" * 3000 + "</p>"),
    priority=Priority.HIGH,
    created_at=NOW,
    received_at=NOW,
    deadline=NOW + timedelta(hours=1),
)
FIELDS: dict[str, Any] = {
    "idempotency_key": "k" * 32,
    "incident_id": "inc-1",
    "channel": "sms",
    "kind": "alert",
    "agency_id": "a",
    "recipient_tag": "t" * 16,
    "state": "intent",
    "at": NOW,
    "attempts": 1,
}


def micros(step: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(step, number=number, repeat=3)) / number * 1e6


def main(number: int = 20_000) -> int:
    raw = NOTE.model_dump_json().encode()
    record = DeliveryRecord(**FIELDS)
    record_raw = record.model_dump_json().encode()
    adapter = TypeAdapter(Notification)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("Notification.model_validate_json", lambda: Notification.model_validate_json(raw)),
        ("TypeAdapter(Notification).validate_json (cached)", lambda: adapter.validate_json(raw)),
        ("Notification.model_dump_json", NOTE.model_dump_json),
        ("DeliveryRecord(...) (validated)", lambda: DeliveryRecord(**FIELDS)),
        ("DeliveryRecord.model_construct(...) (not validated)", lambda: DeliveryRecord.model_construct(**FIELDS)),
        ("DeliveryRecord.model_validate_json", lambda: DeliveryRecord.model_validate_json(record_raw)),
        ("DeliveryRecord.model_dump_json", record.model_dump_json),
    ]
    print("| step | µs |\n|---|---|")
    for name, step in steps:
        print(f"| {name} | {micros(step, number):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
