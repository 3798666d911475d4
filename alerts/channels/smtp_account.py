"""The SMTP account (settings.yaml `smtp:`), apart from the email channel so the provider module
(smtp_email) never imports the channel's module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from alerts.channels.plugin import ChannelSettings, RetrySettings, Section
from alerts.model import Email

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
