"""The SMS channel: settings (`sms:` message limits, `twilio:` the provider), E.164 addresses, the
renderer that fits a message into `sms.max_segments`, and Twilio as its sender (twilio_sms.py).

SMS carries the minimum by policy — reference, age, sex, priority, last seen when and where, the
carer's callback number, how to acknowledge — and never the child's name unless
sms.include_full_name. When the message as written does not fit, the renderer tries, in order:

1. the same spelled in GSM-7, when that spelling is faithful (a place name with Vietnamese
   diacritics costs UCS-2, three times as much; "Bến xe" -> "Ben xe" keeps it readable);
2. dropping the optional parts the templates mark with keep(...), in the order of SMS_OPTIONAL;
3. shortening the last-seen place, at a word boundary, marked "...";
4. leaving the place to the email (templates then say "place by email");
5. as a last resort, dropping the parts in SMS_LAST_RESORT (the callback number).

The reference and the ACK instruction are outside every optional part and are never cut; a template
for which even step 5 does not fit raises RenderError (a test renders every kind at max_segments 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import Field

from alerts.channels.plugin import AddressError, Channel, ChannelSettings, Section, Templates
from alerts.channels.twilio_account import TWILIO  # re-exported: the account SMS and voice share
from alerts.model import RenderedMessage
from alerts.phone import to_e164
from alerts.sms import SmsCost, shorten, sms_cost, to_gsm7

if TYPE_CHECKING:
    import jinja2

    from alerts.channels.base import Sender
    from alerts.config import Config
    from alerts.errors import ConfigError
    from alerts.rendering import MessageFacts

NAME: Final = "sms"
# Parts of an SMS that templates may mark optional with {% if keep("...") %}, in the order dropped.
SMS_OPTIONAL: tuple[str, ...] = ("detail", "window", "name", "date")
# Dropped only when even leaving the place to the email is not enough (max_segments 1).
SMS_LAST_RESORT: tuple[str, ...] = ("callback",)
MIN_PLACE = 8  # shorter than this, a place name says nothing: leave it to the email instead


class SmsSettings(ChannelSettings):
    max_segments: Annotated[int, Field(ge=1, le=10)] = 3
    include_full_name: bool = False


MESSAGES = Section("sms", SmsSettings, SmsSettings())


def address(text: str) -> str:
    """Any common spelling of a phone number -> E.164, so one person is one recipient."""
    try:
        return to_e164(text.strip())
    except ValueError as exc:
        raise AddressError(str(exc)) from None


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_twilio(path: str, settings: object) -> Iterator[ConfigError]:
    from alerts.errors import ConfigError

    twilio = TWILIO.in_settings(settings)
    if twilio is None:
        return
    if (twilio.from_number is None) == (twilio.messaging_service_sid is None):
        yield ConfigError(path, "twilio", "give exactly one sender", "set from_number or messaging_service_sid, not both")
    for key in ("base_url", "status_callback_url", "inbound_url"):
        url = getattr(twilio, key)
        if url is not None and not _is_http_url(url):
            yield ConfigError(path, f"twilio.{key}", f"'{url}' is not an http(s) URL", "give a URL such as https://host/path")
    if twilio.base_url is not None and (twilio.region or twilio.edge):
        yield ConfigError(path, "twilio.base_url", "base_url cannot be combined with region or edge", "remove one of them")
    if twilio.retry.max_delay_s < twilio.retry.base_delay_s:
        yield ConfigError(path, "twilio.retry.max_delay_s", "is less than base_delay_s", "raise max_delay_s")


def check_secrets(config: Config) -> None:
    from alerts.channels.secrets import twilio_auth_token

    if (settings := TWILIO.of(config)) is not None:
        twilio_auth_token(config, settings)


def sender(config: Config) -> Sender | None:
    from alerts.channels import twilio_sms

    return twilio_sms.from_config(config)


@dataclass(frozen=True)
class _Attempt:
    """One way of writing the message: which optional parts are dropped, the place as shown, GSM-7 or not."""

    dropped: frozenset[str]
    place: str | None
    gsm: bool
    by_email: bool = False


class SmsRenderer:
    """The SMS text within max_segments (see the module notes for the steps)."""

    per_recipient = False

    def __init__(self, templates: Templates, *, max_segments: int = 3, include_full_name: bool = False) -> None:
        self.templates = templates
        self.max_segments = max_segments
        self.include_full_name = include_full_name

    def render(self, facts: MessageFacts) -> RenderedMessage:
        return RenderedMessage(text=self.fit(facts)[0])

    def context(self, facts: MessageFacts) -> dict[str, Any]:
        ctx = self.templates.context(facts)
        ctx["sms_name"] = ctx["full_name"] if self.include_full_name else None
        ctx["place_by_email"] = False
        return ctx

    def fit(self, facts: MessageFacts) -> tuple[str, SmsCost]:
        """The SMS text within max_segments, and its cost; RenderError when nothing fits."""
        from alerts.errors import RenderError

        ctx = self.context(facts)
        write = _Writer(self.templates.env.get_template(f"{NAME}/{facts.kind}.txt.j2"), ctx)
        place: str | None = ctx["place"]
        text, cost = write(_Attempt(frozenset(), place, gsm=False))
        if self._fits(cost):
            return text, cost
        gsm = cost.encoding == "UCS-2" and to_gsm7(text)[1]
        for attempt in self._attempts(write, place, gsm):
            text, cost = write(attempt)
            if self._fits(cost):
                return text, cost
        raise RenderError(
            f"{NAME}/{facts.kind}.txt.j2 cannot fit {self.max_segments} segment(s) even at its shortest ({cost}): "
            "mark more of it optional with keep(...) or raise sms.max_segments"
        )

    def _fits(self, cost: SmsCost) -> bool:
        return cost.segments <= self.max_segments

    def _attempts(self, write: _Writer, place: str | None, gsm: bool) -> Iterator[_Attempt]:
        """Steps 2-5 of the module notes, in order (step 1, GSM-7, applies to each of them)."""
        levels = [frozenset(SMS_OPTIONAL[:n]) for n in range(len(SMS_OPTIONAL) + 1)]
        for dropped in levels:
            yield _Attempt(dropped, place, gsm)
        fewest = levels[-1]
        if (shortened := self._shortest_place(write, fewest, place, gsm)) is not None:
            yield shortened
        for dropped in (fewest, fewest | frozenset(SMS_LAST_RESORT)):
            yield _Attempt(dropped, None, gsm=True, by_email=place is not None)

    def _shortest_place(self, write: _Writer, dropped: frozenset[str], place: str | None, gsm: bool) -> _Attempt | None:
        """The longest shortened place that fits and still says something; None when there is none."""
        if place is None or len(place) <= MIN_PLACE:
            return None
        low, high, best = MIN_PLACE, len(place) - 1, None
        while low <= high:
            middle = (low + high) // 2
            attempt = _Attempt(dropped, shorten(place, middle), gsm)
            if len((attempt.place or "").rstrip(".")) < MIN_PLACE:
                low = middle + 1
            elif self._fits(write(attempt)[1]):
                best, low = attempt, middle + 1
            else:
                high = middle - 1
        return best


class _Writer:
    """Renders the template one way (an _Attempt) and counts what it costs."""

    def __init__(self, template: jinja2.Template, ctx: dict[str, Any]) -> None:
        self.template, self.ctx = template, ctx

    def __call__(self, attempt: _Attempt) -> tuple[str, SmsCost]:
        from alerts.text import one_line

        keep: Callable[[str], bool] = lambda part: part not in attempt.dropped  # noqa: E731
        values = {**self.ctx, "keep": keep, "place": attempt.place, "place_by_email": attempt.by_email}
        text = one_line(self.template.render(values))  # NFC
        if attempt.gsm:
            text = to_gsm7(text)[0]
        text = text.replace("....", "...")  # a shortened place before a full stop
        return text, sms_cost(text)


def renderer(templates: Templates, config: Config | None, options: dict[str, Any]) -> SmsRenderer:
    settings = MESSAGES.required(config) if config is not None else SmsSettings()
    chosen = settings.model_copy(update=options) if options else settings
    return SmsRenderer(templates, max_segments=chosen.max_segments, include_full_name=chosen.include_full_name)


def summary(message: RenderedMessage) -> str:
    return f" ({sms_cost(message.text)})"


CHANNEL = Channel(
    name=NAME,
    address=address,
    renderer=renderer,
    sender=sender,
    sections=(MESSAGES, TWILIO),
    summary=summary,
    ack_by_reply=True,
    delivered_callback=True,
    immediate=True,
    social_worker_field="phone",
    settings_checks=(check_twilio,),
    secrets_check=check_secrets,
)
