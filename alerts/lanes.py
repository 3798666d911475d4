"""Delivery lanes: the order in which waiting notifications are sent.

The first alert of a high-priority incident on a channel that reaches a person at once (a phone
that buzzes or rings) is never sent after email or lower-priority work that is waiting with it.
Lanes, top first: those first alerts; other first alerts, escalations and the providers' status
reports (a failure there may call for a fallback) on such channels; first alerts and escalations
by email; updates, stand-downs and claims on any channel. Within a lane: higher priority, then the
earlier window deadline, then arrival.
"""

from __future__ import annotations

from enum import IntEnum

from alerts.channels import CHANNELS
from alerts.model import Notification, NotificationKind, Priority

# Channels that reach a person at once (the registry's `immediate` flag: SMS, a voice call).
IMMEDIATE_CHANNELS = frozenset(channel.name for channel in CHANNELS if channel.immediate)
FIRST_ALERT_KINDS: frozenset[NotificationKind] = frozenset({"alert", "possible_match", "manual_check"})
ALERTING_KINDS: frozenset[NotificationKind] = FIRST_ALERT_KINDS | {"escalation"}

Rank = tuple[int, int, float]


class Lane(IntEnum):
    FIRST_ALERT = 0
    IMMEDIATE = 1
    ALERT_BY_EMAIL = 2
    ROUTINE = 3


def lane_of(note: Notification) -> Lane:
    immediate = note.channel in IMMEDIATE_CHANNELS
    if immediate and note.kind in FIRST_ALERT_KINDS and note.priority == Priority.HIGH:
        return Lane.FIRST_ALERT
    if note.kind not in ALERTING_KINDS:
        return Lane.ROUTINE
    return Lane.IMMEDIATE if immediate else Lane.ALERT_BY_EMAIL


def rank_of(note: Notification) -> Rank:
    """The sort key of a waiting notification: its lane, then priority (highest first), then deadline."""
    return (lane_of(note), -note.priority.rank, note.deadline.timestamp())


# A provider's status report: in the immediate lane, ahead of every notification waiting there.
STATUS_RANK: Rank = (Lane.IMMEDIATE, -Priority.HIGH.rank - 1, 0.0)
