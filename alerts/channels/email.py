"""The email channel: settings (`smtp:`), addresses (alerts.addresses), the multipart renderer over
templates/email/ (text and HTML, the full picture), and SMTP as its sender (smtp_email.py).

With acknowledgement links on, each recipient gets a message of their own carrying their own link.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from alerts.addresses import email_address
from alerts.channels.plugin import AddressError, Channel, ChannelSettings, RetrySettings, Section, Templates
from alerts.model import Email, RenderedMessage

if TYPE_CHECKING:
    from alerts.channels.base import Sender
    from alerts.config import Config
    from alerts.errors import ConfigError
    from alerts.rendering import MessageFacts

NAME = "email"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EmailDomain = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=rf"^{_LABEL}(?:\.{_LABEL})+$")]


class SmtpSettings(ChannelSettings):
    """Email over SMTP. The password comes from the environment or a secret file, never from here."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password_env: str = "SMTP_PASSWORD"
    password_file: Path | None = None
    sender: Email
    sender_name: str = "Crucial Hour"
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the server with (default: the system's)")
    local_hostname: str | None = Field(default=None, description="name given in EHLO (default: this host's FQDN)")
    message_id_domain: EmailDomain | None = Field(default=None, description="right of @ in Message-ID (default: sender's)")
    allowed_domains: list[EmailDomain] = Field(
        default=[], description="recipient domains (and their subdomains) email may go to; empty allows any"
    )
    timeout_s: Annotated[float, Field(gt=0, le=300)] = Field(default=15.0, description="per SMTP command")
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = Field(default=8, description="connections at once")
    retry: RetrySettings = RetrySettings()


SMTP = Section("smtp", SmtpSettings)


def address(text: str) -> str:
    try:
        return email_address(text)[0]
    except ValueError as exc:
        raise AddressError(f"{str(exc).rstrip('.')}; write it as name@domain.example") from None


def check_smtp(path: str, settings: object) -> Iterator[ConfigError]:
    from alerts.errors import ConfigError

    smtp = SMTP.in_settings(settings)
    if smtp is None:
        return
    if smtp.retry.max_delay_s < smtp.retry.base_delay_s:
        yield ConfigError(path, "smtp.retry.max_delay_s", "is less than base_delay_s", "raise max_delay_s")
    if smtp.tls == "none" and smtp.username and smtp.host not in ("127.0.0.1", "::1", "localhost"):
        yield ConfigError(
            path, "smtp.tls", "AUTH would send the password unencrypted", "use tls: starttls or implicit, or drop username"
        )


def check_secrets(config: Config) -> None:
    from alerts.secrets import read_secret

    smtp = SMTP.of(config)
    if smtp is not None and smtp.username:
        password_file = config.path(smtp.password_file) if smtp.password_file else None
        read_secret(setting="smtp.password", env=smtp.password_env, file=password_file)


def sender(config: Config) -> Sender | None:
    from alerts.channels import smtp_email

    return smtp_email.from_config(config)


class EmailRenderer:
    """Subject, plain text and HTML (autoescaped: a name cannot carry markup)."""

    per_recipient = False

    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def render(self, facts: MessageFacts) -> RenderedMessage:
        from alerts.rendering import one_line

        ctx, env = self.templates.context(facts), self.templates.env
        return RenderedMessage(
            subject=one_line(env.get_template(f"{NAME}/subject.txt.j2").render(ctx)),
            text=env.get_template(f"{NAME}/{facts.kind}.txt.j2").render(ctx).strip() + "\n",
            html=env.get_template(f"{NAME}/{facts.kind}.html.j2").render(ctx),
        )


def plain(subject: str, text: str) -> RenderedMessage:
    from alerts.rendering import one_line

    return RenderedMessage(subject=one_line(subject), text=text.strip() + "\n")


def renderer(templates: Templates, config: Config | None, options: dict[str, Any]) -> EmailRenderer:
    return EmailRenderer(templates)


CHANNEL = Channel(
    name=NAME,
    address=address,
    renderer=renderer,
    sender=sender,
    sections=(SMTP,),
    plain=plain,
    link_per_recipient=True,
    social_worker_field="email",
    settings_checks=(check_smtp,),
    secrets_check=check_secrets,
)
