"""Decoding untrusted payloads into the contract, with reasons that name each field path.

One decoder for every way in (the API, the report form, `crucial emit`, the Kafka agent): the same
bounds on size, JSON depth, duplicate keys, invisible characters and — given the server's clock —
times. Reasons name field paths and what is wrong, never the values: they are logged and stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.errors import RejectedInput
from alerts.model import DateOfBirth, PlacementEvent, Rejection, RiskProfile

M = TypeVar("M", bound=BaseModel)

# A key that looks like a field or config name may be named in a reason; any other key (which could hold
# anything a sender typed: a name, a date) is shown as '?'.
_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,47}$")
# What a text field may not hold: C0/C1 controls but tab and line breaks, and lone surrogates —
# binary garbage or an injection attempt, never something a person typed.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Folded away (removed) rather than refused: the invisible format characters that arrive by copy and
# paste from documents and phones — soft hyphen, zero-width space, bidi marks, embeddings, overrides
# and isolates, word joiner, invisible operators, BOM, tags. A report is not turned away for them (a
# safeguarding system fails open), matching never sees them, and no one can reorder what the board
# shows with them. The zero-width (non-)joiners U+200C/U+200D are kept: Persian, Indic scripts and
# emoji need them to spell correctly. Line and paragraph separators become spaces.
_FOLDED = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_SEPARATORS = re.compile("[\u2028\u2029]")
# Strings (skipped whole, escapes included) and brackets: enough to measure nesting before parsing.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key


class IntakeLimits(BaseModel):
    """Bounds every way in (API, form, CLI, Kafka) applies to a report (docs/operations.md: why);
    settings.yaml `intake:`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_future_skew_s: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=300, description="how far ahead of the server clock a report's times may be"
    )
    max_last_seen_age_days: Annotated[int, Field(ge=1, le=366)] = Field(
        default=31, description="how far back a last-seen (and occurred/reported) time may be"
    )
    max_json_depth: Annotated[int, Field(ge=4, le=64)] = 16
    max_bytes: Annotated[int, Field(ge=1024, le=4194304)] = Field(default=262144, description="of one report or profile")


def _limits(limits: IntakeLimits | None) -> IntakeLimits:
    return limits if limits is not None else IntakeLimits()


def safe_key(key: str) -> str:
    return key if _SAFE_KEY.match(key) else "?"


def field_path(loc: tuple[int | str, ...], hide_keys: bool = True) -> str:
    """('child', 'aliases', 2) -> 'child.aliases[2]'; a key that is not a plain identifier shows as '?'
    (`hide_keys=False` for the project's own config, whose keys are names like 'Tower Hamlets')."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            part = safe_key(part) if hide_keys else part
            path += f".{part}" if path else part
    return path or "(root)"


def reasons_of(error: ValidationError) -> list[str]:
    reasons = []
    for item in error.errors(include_url=False):
        # Model validators report at the root with a "Value error, " prefix: keep the message only.
        message = item["msg"].removeprefix("Value error, ")
        reasons.append(f"{field_path(tuple(item['loc']))}: {message}")
    return reasons


def _depth(text: str) -> int:
    deepest = depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _folded(value: Any) -> Any:
    """`value` with the invisible characters of _FOLDED removed from every string value (not keys)."""
    if isinstance(value, str):
        return _SEPARATORS.sub(" ", _FOLDED.sub("", value))
    if isinstance(value, dict):
        return {key: _folded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_folded(item) for item in value]
    return value


def _invisible(value: Any, loc: tuple[int | str, ...] = ()) -> list[str]:
    """Reasons for every string value holding a control character, and every key holding any invisible one."""
    found: list[str] = []
    if isinstance(value, str):
        if hit := _INVISIBLE.search(value):
            found.append(f"{field_path(loc)}: contains a control or invisible character (U+{ord(hit.group()):04X})")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _INVISIBLE.search(key) or _FOLDED.search(key) or _SEPARATORS.search(key):
                found.append(f"{field_path(loc)}: a key contains a control or invisible character")
            found += _invisible(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _invisible(item, (*loc, i))
    return found


def structure(raw: bytes | str, limits: IntakeLimits | None = None) -> str:
    """The payload as text once it is within size and depth, is JSON without duplicate keys and holds no
    control or display-changing characters (meaningless invisible ones folded away); else RejectedInput."""
    limits = _limits(limits)
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > limits.max_bytes:
        raise RejectedInput([f"(size): {size} bytes exceeds the limit of {limits.max_bytes} bytes"])
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RejectedInput([f"(root): not UTF-8 ({exc.reason} at byte {exc.start})"]) from exc
    # Nesting is at most the number of opening brackets: most payloads need no count.
    if raw.count("[") + raw.count("{") > limits.max_json_depth and (depth := _depth(raw)) > limits.max_json_depth:
        raise RejectedInput([f"(root): nested {depth} levels deep; the limit is {limits.max_json_depth}"])
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except _Duplicate as dup:
        raise RejectedInput([f"{safe_key(dup.key)}: key given more than once"]) from None
    except json.JSONDecodeError as bad:
        raise RejectedInput([f"(root): not JSON ({bad.msg} at line {bad.lineno} column {bad.colno})"]) from None
    except (ValueError, RecursionError) as exc:
        raise RejectedInput([f"(root): not JSON ({type(exc).__name__})"]) from None
    if _plain(raw):
        return raw
    if hidden := _invisible(data):
        raise RejectedInput(hidden)
    folded = _folded(data)
    return raw if folded == data else json.dumps(folded, ensure_ascii=False)


def _plain(raw: str) -> bool:
    """No escape and no character to refuse or fold anywhere in the text: then no key or value holds
    one either (without escapes, every character of a decoded string is in the text as it is)."""
    return "\\" not in raw and not (_INVISIBLE.search(raw) or _FOLDED.search(raw) or _SEPARATORS.search(raw))


def parse(model: type[M], raw: bytes | str, limits: IntakeLimits | None = None) -> M:
    """Validate a JSON payload strictly; raise RejectedInput naming every bad field."""
    text = structure(raw, limits)
    try:
        return model.model_validate_json(text)  # parses and validates in one pass (pydantic-core)
    except ValidationError as exc:
        raise RejectedInput(reasons_of(exc)) from None


def parse_event(raw: bytes | str, limits: IntakeLimits | None = None, now: datetime | None = None) -> PlacementEvent:
    """A placement event, within the size bounds; given `now` (the server's clock), its times must also
    lie within the limits."""
    event = parse(PlacementEvent, raw, limits)
    reasons = size_reasons(_report_names(event), _report_lists(event), REPORT_MAX_ENTRIES)
    if now is not None:
        reasons += time_reasons(event, now, _limits(limits))
    if reasons:
        raise RejectedInput(reasons)
    return event


# How much one record may ask of the matcher, whose work grows with the words of each name and the
# entries of each list: a record's content must not hold up every other child's report. Checked at
# intake, never in the model, so a stored record keeps validating (docs/operations.md "Intake bounds").
MAX_NAME_WORDS = 10
REPORT_MAX_ENTRIES = 20
PROFILE_MAX_ENTRIES = 50
MAX_NAME_REASONS = 5
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits: a hyphen or a dot does not hide a word
Named = Iterable[tuple[str, str | None]]
Listed = Iterable[tuple[str, Sequence[object]]]


def size_reasons(names: Named, lists: Listed, max_entries: int) -> list[str]:
    """Names of more than MAX_NAME_WORDS words and lists of more than `max_entries` entries, by path."""
    long_names = [
        f"{path}: a name of at most {MAX_NAME_WORDS} words, not {words}"
        for path, name in names
        if (words := len(_WORD.findall(name or ""))) > MAX_NAME_WORDS
    ]
    reasons = long_names[:MAX_NAME_REASONS]
    if len(long_names) > MAX_NAME_REASONS:
        reasons.append(f"(more): {len(long_names) - MAX_NAME_REASONS} more name(s) of over {MAX_NAME_WORDS} words")
    reasons += [f"{path}: at most {max_entries} entries, not {len(items)}" for path, items in lists if len(items) > max_entries]
    return reasons


def _report_names(event: PlacementEvent) -> Named:
    child = event.child
    yield from (("child.given_names", child.given_names), ("child.family_name", child.family_name))
    yield from ((f"child.aliases[{i}]", alias) for i, alias in enumerate(child.aliases))
    if event.circumstances is not None:
        companions = event.circumstances.accompanied_by
        yield from ((f"circumstances.accompanied_by[{i}]", name) for i, name in enumerate(companions))


def _report_lists(event: PlacementEvent) -> Listed:
    child, circumstances = event.child, event.circumstances
    yield from (("child.aliases", child.aliases), ("child.identifiers", child.identifiers), ("child.languages", child.languages))
    if circumstances is not None:
        yield from (
            ("circumstances.accompanied_by", circumstances.accompanied_by),
            ("circumstances.vehicles", circumstances.vehicles),
            ("circumstances.phone_numbers", circumstances.phone_numbers),
            ("circumstances.near", circumstances.near),
        )


def _profile_names(profile: RiskProfile) -> Named:
    yield from (("given_names", profile.given_names), ("family_name", profile.family_name))
    yield from ((f"aliases[{i}]", alias) for i, alias in enumerate(profile.aliases))
    yield from ((f"associates[{i}].name", associate.name) for i, associate in enumerate(profile.associates))


def _profile_lists(profile: RiskProfile) -> Listed:
    yield from (
        ("aliases", profile.aliases),
        ("identifiers", profile.identifiers),
        ("associates", profile.associates),
        ("vehicles", profile.vehicles),
        ("phone_numbers", profile.phone_numbers),
        ("indicators", profile.indicators),
        ("places_of_concern", profile.places_of_concern),
    )


def time_reasons(event: PlacementEvent, now: datetime, limits: IntakeLimits) -> list[str]:
    """What is wrong with the event's times against the server clock (docs/operations.md: why these bounds)."""
    latest = now + timedelta(seconds=limits.max_future_skew_s)
    earliest = now - timedelta(days=limits.max_last_seen_age_days)
    times: list[tuple[str, datetime | None]] = [("occurred_at", event.occurred_at), ("reported_at", event.reported_at)]
    if event.circumstances is not None:
        times.append(("circumstances.last_seen_at", event.circumstances.last_seen_at))
    reasons = []
    for path, moment in times:
        if moment is None:
            continue
        if moment > latest:
            reasons.append(f"{path}: more than {limits.max_future_skew_s} s ahead of the server clock")
        elif moment < earliest:
            reasons.append(f"{path}: more than {limits.max_last_seen_age_days} days in the past")
    placed = event.placement.placed_at
    if placed is not None and placed > latest:
        reasons.append(f"placement.placed_at: more than {limits.max_future_skew_s} s ahead of the server clock")
    return reasons + dob_reasons("child.date_of_birth", event.child.date_of_birth, now)


def dob_reasons(path: str, dob: DateOfBirth | None, now: datetime) -> list[str]:
    """A date of birth against the clock at intake (never in the model: a stored record keeps validating)."""
    return [f"{path}: {reason}" for reason in dob.plausible_on(now.date())] if dob is not None else []


def parse_profile(raw: bytes | str, limits: IntakeLimits | None = None, now: datetime | None = None) -> RiskProfile:
    """A risk profile; given `now` (a new profile, not one read back from the profiles topic), its date
    of birth must also be plausible on that day, and it must keep within the size bounds (read back, a
    profile accepted before a bound existed stays in the index)."""
    profile = parse(RiskProfile, raw, limits)
    if now is None:
        return profile
    reasons = size_reasons(_profile_names(profile), _profile_lists(profile), PROFILE_MAX_ENTRIES)
    if reasons := reasons + dob_reasons("date_of_birth", profile.date_of_birth, now):
        raise RejectedInput(reasons)
    return profile


def rejection(raw: bytes | None, reasons: list[str], now: datetime, source: str, max_raw_bytes: int = 16384) -> Rejection:
    """What the rejected topic keeps: the payload up to `max_raw_bytes` (base64 too when not UTF-8),
    its full length and SHA-256, and the reasons — bounded, so the record can always be written."""
    raw = raw or b""
    kept = raw[:max_raw_bytes]
    try:
        text, encoded = kept.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        if len(kept) < len(raw) and exc.start >= len(kept) - 3:  # cut inside a character: drop its start
            text, encoded = kept[: exc.start].decode("utf-8", "replace"), None
        else:
            text, encoded = kept.decode("utf-8", "replace"), base64.b64encode(kept).decode()
    return Rejection(
        source=source[:200],
        received_at=now,
        reasons=[r[:300] for r in reasons[:20]],
        raw=text,
        raw_base64=encoded,
        raw_length=len(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        truncated=len(kept) < len(raw),
    )
