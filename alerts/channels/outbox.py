"""The embedded default: notifications appended to a local JSONL file and logged (no account needed)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from alerts.channels.base import Accepted, DeliveryError
from alerts.model import Notification

log = logging.getLogger("crucial.outbox")


class OutboxSender:
    def __init__(self, path: Path, serves: str) -> None:
        self.name = f"outbox:{serves}"
        self.path = path
        self._lock = asyncio.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    async def send(self, notification: Notification) -> Accepted:
        line = json.dumps(notification.model_dump(mode="json"), ensure_ascii=False) + "\n"
        try:
            async with self._lock:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(line)
        except OSError as exc:
            raise DeliveryError("outbox_unwritable", retryable=True, detail=str(exc)) from exc
        # References only: the message text carries personal data and stays in the outbox file.
        log.info(
            "ALERT %s %s kind=%s priority=%s to=%s via=%s -> %s",
            notification.incident_reference,
            notification.idempotency_key[:8],
            notification.kind,
            notification.priority.value,
            notification.recipient.agency_id,
            notification.channel,
            self.path,
        )
        return Accepted(provider_id=f"outbox-{notification.idempotency_key}")

    async def close(self) -> None:
        return None
