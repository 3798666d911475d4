"""What a channel is: one `Channel` value per channel module, listed once in `alerts.channels.CHANNELS`.

The domain (alerts/ outside channels/) never names a channel: it asks the registry. A channel
declares everything the rest of the system needs to know about it:

- `name`: the key in contacts (`sms:`), in routing `channels:`, in `fallback:`, in metrics labels;
- `sections`: its own settings.yaml sections, each a strict pydantic model (validated with the rest);
- `address`: validate and normalise one address (AddressError says what is wrong and the fix);
- `renderer`: facts -> RenderedMessage, from its templates in templates/<name>/;
- `sender`: config -> Sender, or None when its provider is not configured (the outbox serves it);
- flags the domain acts on (acknowledge by reply, delivered callback, a link per recipient).

This module imports no provider library and no alerts.config (config imports the registry to build
its settings schema); a channel's sender module is imported only when a sender is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from alerts.model import RenderedMessage

if TYPE_CHECKING:
    import jinja2

    from alerts.channels.base import Sender
    from alerts.config import Config
    from alerts.errors import ConfigError
    from alerts.rendering import MessageFacts


class ChannelSettings(BaseModel):
    """Base of every channel's settings section: unknown keys refused, frozen like the rest of config."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySettings(ChannelSettings):
    """Retries of a transient delivery failure: exponential backoff with equal jitter, within a budget.

    The defaults ride out a provider outage of at least three minutes (an attempt every 5–10 s, for
    up to 5 minutes): giving up on an alert after seconds of 5xx would drop it into the fallback path
    for a fault that is the provider's and passing."""

    max_attempts: Annotated[int, Field(ge=1, le=200)] = 40
    base_delay_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    max_delay_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    budget_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=300.0, description="no attempt starts later than this after the first one"
    )


M = TypeVar("M", bound=ChannelSettings)


@dataclass(frozen=True)
class Section(Generic[M]):
    """One top-level key of settings.yaml owned by a channel. `default` None: the section is optional
    (its provider is not configured until it is written)."""

    key: str
    model: type[M]
    default: M | None = None

    def of(self, config: Config) -> M | None:
        return self.in_settings(config.settings)

    def in_settings(self, settings: object) -> M | None:
        """The section's value in a validated settings.yaml (alerts.config.Settings)."""
        value = getattr(settings, self.key, None)
        return value if isinstance(value, self.model) else self.default

    def required(self, config: Config) -> M:
        """The section's value where it always has one (a section with a default)."""
        value = self.of(config)
        if value is None:
            raise LookupError(f"settings.{self.key} has no default; use .of() and handle None")
        return value


class AddressError(ValueError):
    """An address a channel cannot deliver to; the message says what is wrong and how to write it."""


class Templates(Protocol):
    """What the domain's Renderer offers a channel's renderer: the Jinja2 environment over the
    templates directory (templates/<channel>/… inside it) and the facts every message may draw on."""

    env: jinja2.Environment

    def context(self, facts: MessageFacts) -> dict[str, Any]: ...


class MessageRenderer(Protocol):
    """Renders one kind of message for one channel. `render` raises RenderError (alerts.rendering)
    when no valid message can be made (e.g. an SMS that cannot fit). `per_recipient`: the message
    depends on who receives it even without ack links (e.g. a per-subscriber data policy); otherwise
    it is rendered once per incident and channel."""

    per_recipient: bool

    def render(self, facts: MessageFacts) -> RenderedMessage: ...


# Builds a channel's renderer from the shared templates and the config (None: the channel's defaults,
# as in tests that render without a config directory). `options` are per-channel test overrides.
RendererFactory = Callable[["Templates", "Config | None", dict[str, Any]], MessageRenderer]
SenderFactory = Callable[["Config"], "Sender | None"]
# Cross-checks of a channel's sections that one model cannot make (path of settings.yaml, Settings).
SettingsCheck = Callable[[str, Any], Iterator["ConfigError"]]
# Checks across files, run on the whole validated config (e.g. contacts naming a configured subscriber).
ConfigCheck = Callable[["Config"], Iterator["ConfigError"]]
# Secrets the sender will read, read now so `check-config` fails whenever the worker would.
SecretsCheck = Callable[["Config"], None]


def subject_summary(message: RenderedMessage) -> str:
    """How `crucial route` heads a message: its subject, when it has one."""
    return f": subject {message.subject}" if message.subject else ""


def one_line_message(subject: str, text: str) -> RenderedMessage:
    """A plain message as one line of text (the subject is not sent): SMS and the like."""
    return RenderedMessage(text=" ".join(text.split()))


# Shapes a plain (subject, text) into the channel's message, for messages made without the channel's
# renderer (the fail-open manual check, which must use none of the parts that may have failed).
PlainMessage = Callable[[str, str], RenderedMessage]


@dataclass(frozen=True)
class Channel:
    """One delivery channel. See alerts/channels/README.md ("Adding a channel")."""

    name: str
    address: Callable[[str], str]  # one address in any accepted spelling -> its normal form, or AddressError
    renderer: RendererFactory
    sender: SenderFactory
    sections: tuple[Section[Any], ...] = ()
    plain: PlainMessage = one_line_message
    summary: Callable[[RenderedMessage], str] = subject_summary  # after "--- <kind> by <channel>" in `crucial route`
    # Each recipient gets a message of their own when acknowledgement links are on (their own link).
    link_per_recipient: bool = False
    # Recipients acknowledge by replying on this channel (an ACK label in metrics, the audit's `via`).
    ack_by_reply: bool = False
    # The provider reports delivery to the handset/inbox (a delivery-latency metric is kept, and the
    # deliverer keeps each notification for those reports; for other channels it keeps none).
    delivered_callback: bool = False
    # It reaches a person at once (a phone that buzzes or rings): a high-priority incident's first
    # alert on it takes the top delivery lane (alerts.lanes), ahead of email and routine work.
    immediate: bool = False
    # Rules and escalation steps that list no `channels:` use every channel routed by default.
    routed_by_default: bool = True
    # Which field of a risk profile's social worker holds this channel's address, if any.
    social_worker_field: str | None = None
    settings_checks: tuple[SettingsCheck, ...] = ()
    config_checks: tuple[ConfigCheck, ...] = ()
    secrets_check: SecretsCheck | None = None
    templates: Path | None = field(default=None)  # templates/<name>/ unless the channel says otherwise

    @property
    def template_dir(self) -> str:
        """The directory, relative to the templates root, holding this channel's templates."""
        return str(self.templates) if self.templates is not None else self.name

    def configured(self, config: Config) -> bool:
        """Whether any of the channel's optional (provider) sections is written in settings.yaml."""
        return any(section.default is None and section.of(config) is not None for section in self.sections)


class Registry:
    """The channels by name, in registration order (the order `crucial` lists them)."""

    def __init__(self, *channels: Channel) -> None:
        self._by_name: dict[str, Channel] = {}
        for channel in channels:
            self.add(channel)

    def add(self, channel: Channel) -> None:
        """Register a channel outside this package (a deployment's own). Only before alerts.config is
        imported: its settings, contact and rota models are built from the registry then."""
        if channel.name in self._by_name:
            raise ValueError(f"channel '{channel.name}' registered twice")
        self._by_name[channel.name] = channel

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Channel:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown channel '{name}' (registered: {', '.join(self._by_name)})") from None

    def get(self, name: str) -> Channel | None:
        return self._by_name.get(name)

    def unknown(self, name: str) -> str:
        """The problem text for a key that is not a channel."""
        return f"'{name}' is not a channel (registered: {', '.join(self._by_name)})"

    def acknowledged_by_reply(self) -> frozenset[str]:
        """The channels whose recipients acknowledge by replying on them (an SMS reply, a key press)."""
        return frozenset(channel.name for channel in self if channel.ack_by_reply)

    def sections(self) -> Iterator[Section[Any]]:
        for channel in self:
            yield from channel.sections
