"""No personal data in logs: a filter the worker installs on its log handler.

Exception messages can carry input values (pydantic's ValidationError prints `input_value=...`, a
KeyError its key, an OverflowError the date it could not add to). The filter keeps every traceback's
frames — where the fault arose — and replaces each exception's message with its class, plus field
paths for a validation error. Arguments that are exceptions are shown the same way, and any
`input_value=` left in a message is blanked. The project's own errors (CrucialHourError) keep their
messages: they are written to name fields, never values.
"""

from __future__ import annotations

import logging
import re
import traceback

from pydantic import ValidationError

from alerts.errors import CrucialHourError
from alerts.intake import field_path

_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|\]|$)", re.MULTILINE)
HIDDEN = "(hidden)"


def describe(exc: BaseException) -> str:
    """An exception as 'module.Class: detail' where detail carries no input values."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    if isinstance(exc, ValidationError):
        paths = sorted({field_path(tuple(e["loc"])) for e in exc.errors(include_url=False)})
        return f"{name}: {exc.error_count()} error(s) at {', '.join(paths)}"
    if isinstance(exc, CrucialHourError):
        return f"{name}: {exc}"
    return name


def safe_traceback(exc: BaseException) -> str:
    """The traceback of `exc` and the exceptions it chains, frames kept, messages as `describe` gives them."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        parts.append(f"Traceback (most recent call last):\n{frames}{describe(current)}")
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n\nWhile handling, or caused by:\n".join(reversed(parts))


class NoValues(logging.Filter):
    """Rewrites each record so that no exception message or input value reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._scrub(record)
        except Exception:  # a record that cannot be formatted: say so rather than fail the caller
            record.msg, record.args, record.exc_info, record.exc_text = (
                "(a log record that could not be shown safely)",
                (),
                None,
                None,
            )
        return True

    def _scrub(self, record: logging.LogRecord) -> None:
        info = record.exc_info
        if info and info[1] is not None:
            record.exc_text = safe_traceback(info[1])
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if any(isinstance(a, BaseException) for a in args):
                record.args = tuple(describe(a) if isinstance(a, BaseException) else a for a in args)
        message = record.getMessage()
        if "input_value=" in message:
            record.msg, record.args = _INPUT_VALUE.sub(f"input_value={HIDDEN}", message), ()
