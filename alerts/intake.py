"""Decoding untrusted payloads into the contract, with reasons that name each field path."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from alerts.errors import RejectedInput
from alerts.model import PlacementEvent, Rejection, RiskProfile

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    """('child', 'aliases', 2) -> 'child.aliases[2]'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def reasons_of(error: ValidationError) -> list[str]:
    reasons = []
    for item in error.errors(include_url=False):
        # Model validators report at the root with a "Value error, " prefix: keep the message only.
        message = item["msg"].removeprefix("Value error, ")
        reasons.append(f"{field_path(tuple(item['loc']))}: {message}")
    return reasons


def parse(model: type[M], raw: bytes | str) -> M:
    """Validate a JSON payload strictly; raise RejectedInput naming every bad field."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RejectedInput([f"(root): not UTF-8 ({exc.reason} at byte {exc.start})"]) from exc
    try:
        return model.model_validate_json(raw)  # parses and validates in one pass (pydantic-core)
    except ValidationError as exc:
        if exc.errors(include_url=False)[0]["type"] == "json_invalid":
            # Say where, in the words of the standard library's parser.
            try:
                json.loads(raw)
            except json.JSONDecodeError as bad:
                raise RejectedInput([f"(root): not JSON ({bad.msg} at line {bad.lineno} column {bad.colno})"]) from exc
        raise RejectedInput(reasons_of(exc)) from exc


def parse_event(raw: bytes | str) -> PlacementEvent:
    return parse(PlacementEvent, raw)


def parse_profile(raw: bytes | str) -> RiskProfile:
    return parse(RiskProfile, raw)


def rejection(raw: bytes | None, reasons: list[str], now: datetime, source: str) -> Rejection:
    """What the rejected topic keeps: the payload whole (base64 too when not UTF-8) and the reasons."""
    raw = raw or b""
    try:
        text, encoded = raw.decode("utf-8"), None
    except UnicodeDecodeError:
        text, encoded = raw.decode("utf-8", "replace"), base64.b64encode(raw).decode()
    return Rejection(source=source, received_at=now, reasons=reasons, raw=text, raw_base64=encoded)
