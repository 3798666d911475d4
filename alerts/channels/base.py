"""The one small interface every channel implements, and the errors it may raise.

A channel sends one notification and returns the provider's id, or raises DeliveryError saying
whether a retry can help and why. Provider exceptions never cross this boundary untranslated; the
`reason` is also the metric label, so it is a short, bounded word (see `alerts.channels.reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alerts.errors import CrucialHourError
from alerts.model import Notification


@dataclass(frozen=True)
class Accepted:
    """The provider took the message. `attempts` counts sends, retries included (set by send_with_retry)."""

    provider_id: str
    attempts: int = 1


class DeliveryError(CrucialHourError):
    """A send failed. `retryable`: a later attempt may succeed (their fault, or nobody's);
    otherwise it is permanent for this recipient on this channel (fall back, report).
    `retry_after_s`: the provider asked us to wait at least this long. `detail` never holds
    message text, names or addresses. `attempts` is set by send_with_retry when it gives up."""

    def __init__(self, reason: str, *, retryable: bool, detail: str = "", retry_after_s: float | None = None) -> None:
        self.reason, self.retryable, self.detail, self.retry_after_s = reason, retryable, detail, retry_after_s
        self.attempts = 1
        super().__init__(f"{reason} ({'retryable' if retryable else 'permanent'}){': ' + detail if detail else ''}")


class Sender(Protocol):
    """A channel: `name` labels metrics and the ledger; `send` delivers one notification."""

    name: str

    async def send(self, notification: Notification) -> Accepted: ...

    async def close(self) -> None: ...
