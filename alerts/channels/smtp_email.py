"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS, AUTH, multipart text + HTML.

Authenticated connections are kept open and reused (at most `max_concurrency`, each for a bounded
number of messages and idle time): a new connection per message cost a TLS handshake, STARTTLS and
AUTH — most of the worker's CPU per email and ~100 ms of latency (docs/performance.md). Each SMTP
command is cut off after `timeout_s`. The envelope (MAIL FROM / RCPT TO) is set explicitly, never read from headers, and
every header value is made single-line first, so nothing in a notification can add a recipient or
a header. The Message-ID is derived from the idempotency key (and Date from created_at), so a
retried or replayed notification is the same message to the recipient's mail system.

Failures: 4xx replies, timeouts and dropped connections are retryable; 5xx replies, refused
credentials (535), TLS that cannot be verified, and recipients outside `allowed_domains` are not.
"""

from __future__ import annotations

import asyncio
import binascii
import email
import functools
import logging
import re
import socket
import ssl
import time
from email import charset
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiosmtplib

from alerts.addresses import email_address
from alerts.channels import reasons
from alerts.channels.base import Accepted, DeliveryError
from alerts.channels.retry import RetryPolicy
from alerts.channels.smtp_account import SMTP, SmtpSettings
from alerts.model import Notification
from alerts.secrets import read_secret

if TYPE_CHECKING:
    from alerts.config import Config

log = logging.getLogger("crucial.channels.smtp")

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_TOKEN = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SUBJECT = 200
# Reuse limits: servers drop idle sessions (RFC 5321 asks them to wait 5 min; many wait less) and
# some cap messages per session.
IDLE_REUSE_S = 30.0
MESSAGES_PER_CONNECTION = 100

# Encoded words in quoted-printable UTF-8: readable in a raw mail view.
_UTF8_QP = charset.Charset("utf-8")
_UTF8_QP.header_encoding = charset.QP
_UTF8_QP.body_encoding = charset.QP

Tls = Literal["starttls", "implicit", "none"]


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """Header-safe text: CR, LF and every other control character become a space; trimmed; capped."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@functools.lru_cache(maxsize=4096)  # the rota's addresses recur; email_validator costs ~40 µs a call
def check_address(address: str) -> tuple[str, str]:
    """(address, lower-case domain) by the one validator config also uses; DeliveryError invalid_address otherwise."""
    try:
        return email_address(address)
    except ValueError:
        raise DeliveryError(reasons.INVALID_ADDRESS, retryable=False, detail="not a plain email address") from None


def wire_address(address: str) -> str:
    """The address as it goes in the envelope and the To header: the domain in its ASCII (IDNA) form, so
    the message stays 7-bit (the local part is ASCII already: check_address refuses SMTPUTF8)."""
    valid, domain = check_address(address)
    return f"{valid.rsplit('@', 1)[0]}@{domain}"


def domain_allowed(domain: str, allowed: list[str]) -> bool:
    """An empty allow-list allows any domain; otherwise the domain or a parent must be listed."""
    if not allowed:
        return True
    domain = domain.lower().rstrip(".")
    return any(domain == entry or domain.endswith("." + entry) for entry in allowed)


def message_id(notification: Notification, domain: str) -> str:
    """The same Message-ID for every attempt at the same notification."""
    return f"<{notification.idempotency_key}@{domain}>"


def _header_text(text: str) -> str:
    return text if text.isascii() else Header(text, _UTF8_QP).encode()


def build_message(notification: Notification, *, sender: str, sender_name: str, message_id_domain: str) -> Message:
    """The MIME message (parsed back from `encode_message`'s bytes: one encoder, what is sent is what is read)."""
    raw = encode_message(notification, sender=sender, sender_name=sender_name, message_id_domain=message_id_domain)
    return email.message_from_bytes(raw)


def encode_message(notification: Notification, *, sender: str, sender_name: str, message_id_domain: str) -> bytes:
    """The message as it goes on the wire: text/plain, plus text/html as the preferred alternative when
    rendered; 7-bit (quoted-printable UTF-8 bodies, encoded-word headers), CRLF line ends, so aiosmtplib
    sends it as it is. Written directly rather than through email's MIME classes and generator, which
    cost ~0.7 ms an email in the worker (docs/performance.md "What was tried")."""
    address = wire_address(notification.recipient.address)
    headers = [
        # formataddr quotes or encodes a display name, so no name can add an address or a header.
        ("From", formataddr((one_line(sender_name, 80), sender), charset="utf-8")),
        ("To", formataddr((one_line(notification.recipient.name, 80), address), charset="utf-8")),
        ("Subject", _header_text(one_line(notification.message.subject or f"Crucial Hour {notification.incident_reference}"))),
        ("Date", format_datetime(notification.created_at)),
        ("Message-ID", message_id(notification, message_id_domain)),
        ("References", f"<incident-{_TOKEN.sub('-', notification.incident_id)[:80] or 'incident'}@{message_id_domain}>"),
        ("X-Crucial-Reference", _header_text(one_line(notification.incident_reference, 40))),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no auto-replies
        ("X-Auto-Response-Suppress", "All"),
    ]
    if notification.priority.value == "high":
        headers += [("Importance", "high"), ("X-Priority", "1")]
    text = _text_part("plain", notification.message.text)
    if not notification.message.html:
        return _header_block([*text[0], *headers]) + text[1] + b"\r\n"  # SMTP's DATA ends with a line end
    # "=_" never occurs in quoted-printable text ("=" is always followed by hex or a line end).
    boundary = f"=_crucial_{notification.idempotency_key[:40]}"
    html = _text_part("html", notification.message.html)
    top = [("Content-Type", f'multipart/alternative; boundary="{boundary}"'), ("MIME-Version", "1.0"), *headers]
    # The line end before each delimiter is the delimiter's (RFC 2046), not the part's content.
    body = b"".join(b"--%s\r\n%s%s\r\n" % (boundary.encode(), _header_block(part[0]), part[1]) for part in (text, html))
    return _header_block(top) + body + b"--%s--\r\n" % boundary.encode()


def _text_part(subtype: str, content: str) -> tuple[list[tuple[str, str]], bytes]:
    """(headers, encoded body) of one text part."""
    flat = content.replace("\r\n", "\n").replace("\r", "\n")
    body = binascii.b2a_qp(flat.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    headers = [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    return headers, body


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    """Header lines and the blank line after them. Every value is ASCII and single-line by now (one_line,
    formataddr, encoded words); an encoded word's own folding is kept, with CRLF."""
    lines = "".join(f"{name}: {value}\n" for name, value in headers).replace("\r\n", "\n").replace("\n", "\r\n")
    return lines.encode("ascii") + b"\r\n"


def translate_smtp_error(exc: BaseException) -> DeliveryError:
    """An aiosmtplib / socket / TLS failure as a DeliveryError (4xx and network: retry; 5xx: not)."""
    name = type(exc).__name__
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients] or [550]
        code = max(codes)
        if all(400 <= c < 500 for c in codes):
            return DeliveryError(reasons.SMTP_4XX, retryable=True, detail=f"RCPT {code}")
        return DeliveryError(reasons.RECIPIENT_REJECTED, retryable=False, detail=f"RCPT {code}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(reasons.AUTH, retryable=400 <= exc.code < 500, detail=f"AUTH {exc.code}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return DeliveryError(reasons.SMTP_4XX, retryable=True, detail=f"{name} {exc.code}")
        if 500 <= exc.code < 600:
            return DeliveryError(reasons.SMTP_5XX, retryable=False, detail=f"{name} {exc.code}")
        return DeliveryError(reasons.PROVIDER_ERROR, retryable=True, detail=f"{name} {exc.code}")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        return DeliveryError(
            reasons.TLS, retryable=False, detail=type(cause if isinstance(cause, ssl.SSLError) else exc).__name__
        )
    if isinstance(exc, TimeoutError):  # aiosmtplib's timeouts are TimeoutErrors too
        return DeliveryError(reasons.TIMEOUT, retryable=True, detail=name)
    # aiosmtplib raises the plain SMTPException for a missing STARTTLS or AUTH extension.
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or (
        type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc).lower()
    ):
        return DeliveryError(reasons.NOT_SUPPORTED, retryable=False, detail=name)
    if isinstance(exc, OSError):  # SMTPConnectError, SMTPServerDisconnected, ConnectionRefusedError…
        return DeliveryError(reasons.CONNECTION, retryable=True, detail=name)
    return DeliveryError(reasons.PROVIDER_ERROR, retryable=True, detail=name)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate and host name verified, TLS 1.2 at least; `ca_file` replaces the system's CAs."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SmtpEmailSender:
    """Sender for the "email" channel over SMTP."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings, password: str | None = None, *, retry_policy: RetryPolicy | None = None) -> None:
        """`settings` as in settings.yaml (`ca_file` already resolved against the config directory);
        `password` read from the secret the settings name; `retry_policy` defaults to settings.retry."""
        if (settings.username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host, self.port, self.tls = settings.host, settings.port, settings.tls
        self.sender = wire_address(settings.sender)  # an IDN domain in ASCII: From and Message-ID stay 7-bit
        self.sender_name = settings.sender_name
        self._username, self._password = settings.username, password
        self._tls_context = tls_context(settings.ca_file) if settings.tls != "none" else None
        # Resolved once here, not per message: socket.getfqdn() may block on DNS.
        self.local_hostname = settings.local_hostname or socket.getfqdn()
        self.message_id_domain = settings.message_id_domain or self.sender.rsplit("@", 1)[1].lower()
        self.allowed_domains = [d.lower() for d in settings.allowed_domains]
        self.timeout_s = settings.timeout_s
        self.retry_policy = retry_policy or RetryPolicy.from_settings(settings.retry)
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._idle: list[_Connection] = []  # most recently used last

    def message_for(self, notification: Notification) -> Message:
        """The message for one notification, after the address and allow-list checks (pure)."""
        return email.message_from_bytes(self.wire_message(notification))

    def wire_message(self, notification: Notification) -> bytes:
        """The bytes `send` hands to the server for one notification, after the address and allow-list checks."""
        _, domain = check_address(notification.recipient.address)
        if not domain_allowed(domain, self.allowed_domains):
            raise DeliveryError(reasons.DOMAIN_NOT_ALLOWED, retryable=False, detail="recipient domain not in allowed_domains")
        return encode_message(
            notification, sender=self.sender, sender_name=self.sender_name, message_id_domain=self.message_id_domain
        )

    async def send(self, notification: Notification) -> Accepted:
        raw = self.wire_message(notification)
        recipient = wire_address(notification.recipient.address)
        async with self._slots:
            try:
                # Per-command timeouts inside; the whole exchange is bounded too.
                async with asyncio.timeout(self.timeout_s * 4):
                    await self._deliver(raw, recipient)
            except (aiosmtplib.SMTPException, OSError) as exc:  # TimeoutError and ssl.SSLError are OSErrors
                raise translate_smtp_error(exc) from None
        log.debug("email %s accepted by %s", notification.idempotency_key[:8], self.host)
        return Accepted(provider_id=message_id(notification, self.message_id_domain))

    async def _deliver(self, raw: bytes, recipient: str) -> None:
        connection = self._reusable()
        if connection is not None:
            try:
                await self._send_on(connection, raw, recipient)
                return
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                # The server had closed the idle session: not a failure, so reconnect. (Had it dropped
                # us after taking the DATA, the resend carries the same Message-ID.)
                pass
        await self._send_on(_Connection(await self._connect()), raw, recipient)

    async def _send_on(self, connection: _Connection, raw: bytes, recipient: str) -> None:
        """Send on `connection`; keep it for the next message, or close it if anything went wrong."""
        try:
            # The bytes as encode_message wrote them (7-bit, no Bcc): sendmail, not send_message, which
            # would copy and flatten a MIME object again.
            await connection.smtp.sendmail(self.sender, [recipient], raw)
        except BaseException:
            connection.smtp.close()
            raise
        self._keep(connection)

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._username,
            password=self._password,
            use_tls=self.tls == "implicit",
            start_tls=self.tls == "starttls",
            tls_context=self._tls_context,
            local_hostname=self.local_hostname,
            timeout=self.timeout_s,
        )
        await smtp.connect()  # and STARTTLS, and AUTH
        return smtp

    def _reusable(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.smtp.is_connected and time.monotonic() - connection.last_used < IDLE_REUSE_S:
                return connection
            connection.smtp.close()
        return None

    def _keep(self, connection: _Connection) -> None:
        connection.sent += 1
        connection.last_used = time.monotonic()
        if connection.sent >= MESSAGES_PER_CONNECTION:
            connection.smtp.close()
        else:
            self._idle.append(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            try:
                await connection.smtp.quit(timeout=2.0)
            except (aiosmtplib.SMTPException, OSError):
                connection.smtp.close()


class _Connection:
    """An authenticated SMTP session kept between messages."""

    def __init__(self, smtp: aiosmtplib.SMTP) -> None:
        self.smtp = smtp
        self.sent = 0
        self.last_used = time.monotonic()


def from_config(config: Config) -> SmtpEmailSender | None:
    """The sender described by settings.smtp, or None when SMTP is not configured."""
    settings: SmtpSettings | None = SMTP.of(config)
    if settings is None:
        return None
    password = None
    if settings.username:
        password_file = config.path(settings.password_file) if settings.password_file else None
        password = read_secret(setting="smtp.password", env=settings.password_env, file=password_file)
    if settings.ca_file is not None:
        settings = settings.model_copy(update={"ca_file": config.path(settings.ca_file)})
    return SmtpEmailSender(settings, password)
