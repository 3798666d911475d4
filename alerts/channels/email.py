"""The email channel: settings (`smtp:`), addresses (alerts.addresses), the multipart renderer over
templates/email/ (text and HTML, the full picture), and SMTP as its sender (smtp_email.py).

With acknowledgement links on, each recipient gets a message of their own carrying their own link.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from alerts.addresses import email_address
from alerts.channels.plugin import AddressError, Channel, Templates
from alerts.channels.smtp_account import SMTP  # re-exported
from alerts.model import RenderedMessage

if TYPE_CHECKING:
    from alerts.channels.base import Sender
    from alerts.config import Config
    from alerts.errors import ConfigError
    from alerts.rendering import MessageFacts

NAME = "email"


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
        from alerts.text import one_line

        ctx, env = self.templates.context(facts), self.templates.env
        return RenderedMessage(
            subject=one_line(env.get_template(f"{NAME}/subject.txt.j2").render(ctx)),
            text=env.get_template(f"{NAME}/{facts.kind}.txt.j2").render(ctx).strip() + "\n",
            html=env.get_template(f"{NAME}/{facts.kind}.html.j2").render(ctx),
        )


def plain(subject: str, text: str) -> RenderedMessage:
    from alerts.text import one_line

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
