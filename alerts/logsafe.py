"""Text from a payload that a log line may carry: field paths only, and never verbatim.

A reason names the field it is about; for an unknown field that name is the sender's own text, and a
newline in it would forge a log line ("extra_forbidden" on a key "x\\n[INFO] all well"). Logs get the
path with anything outside a plain path's characters replaced, and cut short.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\[\]()-]")
MAX_PATH_CHARS = 80


def loggable_path(path: str) -> str:
    """`path` with every character a field path does not need replaced by '?', at most 80 characters."""
    cleaned = _UNSAFE.sub("?", path)
    return cleaned if len(cleaned) <= MAX_PATH_CHARS else cleaned[: MAX_PATH_CHARS - 1] + "…"


def loggable_fields(reasons: list[str]) -> str:
    """The field paths of `reasons` ('path: message' each), safe for a log line, sorted, comma-separated."""
    return ", ".join(sorted({loggable_path(reason.partition(": ")[0]) for reason in reasons}))
