"""The SMTP boundary's pure parts: the MIME message, header safety, the allow-list, error translation."""

from __future__ import annotations

import email
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import default as default_policy

import aiosmtplib
import pytest

from alerts.channels import reasons
from alerts.channels.base import DeliveryError
from alerts.channels.smtp_email import (
    build_message,
    check_address,
    domain_allowed,
    encode_message,
    one_line,
    translate_smtp_error,
)
from tests.peers.notifications import make_notification, smtp_sender

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
TO = "duty.inspector@met.police.example"


def parse(msg: Message) -> EmailMessage:
    """Round-trip through bytes, as a receiving server would read it."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def message(**kwargs: object) -> EmailMessage:
    options: dict[str, object] = {"channel": "email", "address": TO, "now": NOW, "html": "<p>Full <b>detail</b></p>"}
    options.update(kwargs)
    note = make_notification(**options)  # type: ignore[arg-type]
    return parse(
        build_message(note, sender="alerts@crucial.example", sender_name="Crucial Hour", message_id_domain="crucial.example")
    )


def test_multipart_text_and_html() -> None:
    msg = message()
    assert msg.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and "CH-TEST01" in plain.get_content()
    assert html is not None and "<b>detail</b>" in html.get_content()


def test_text_only_when_no_html() -> None:
    msg = message(html=None)
    assert msg.get_content_type() == "text/plain"


def test_headers() -> None:
    msg = message()
    assert msg["From"] == "Crucial Hour <alerts@crucial.example>"
    assert msg["To"] == f"Duty Sergeant <{TO}>"
    assert msg["Subject"] == "HIGH: CH-TEST01 missing child alert"
    assert msg["Date"] == "Sun, 29 Mar 2026 00:30:00 +0000"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Importance"] == "high"


def test_message_id_is_deterministic_per_notification() -> None:
    first, again = message(), message()
    assert first["Message-ID"] == again["Message-ID"]
    note = make_notification(channel="email", address=TO, now=NOW)
    assert first["Message-ID"] == f"<{note.idempotency_key}@crucial.example>"
    other = message(kind="escalation")
    assert other["Message-ID"] != first["Message-ID"]
    assert other["References"] == first["References"]  # one thread per incident


@pytest.mark.parametrize(
    "hostile",
    [
        "Alert\r\nBcc: thief@attacker.example",
        "Alert\nBcc: thief@attacker.example",
        "Alert\rBcc: thief@attacker.example",
        "Alert\u2028Bcc: thief@attacker.example",
        "Alert\x00\x1b[31m\r\n\r\n<script>",
    ],
)
def test_no_header_can_be_injected(hostile: str) -> None:
    msg = message(subject=hostile, name=hostile)
    assert msg["Bcc"] is None
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
    assert msg["To"].addresses[0].addr_spec == TO
    assert len(msg["To"].addresses) == 1
    header_block = msg.as_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in header_block


def wire(**kwargs: object) -> bytes:
    options: dict[str, object] = {"channel": "email", "address": TO, "now": NOW, "html": "<p>Full <b>detail</b></p>"}
    options.update(kwargs)
    note = make_notification(**options)  # type: ignore[arg-type]
    return encode_message(note, sender="alerts@crucial.example", sender_name="Crucial Hour", message_id_domain="crucial.example")


AWKWARD_TEXT = "Élodie, 14 — “HIGH” risk\n.\n.starts with a dot\ntrailing spaces   \n\ttab\r\nCRLF\rlone CR\n" + "x" * 300


@pytest.mark.parametrize("html", [None, "<p>Détail &amp; ½ — " + "y" * 200 + "</p>\n<p>=_crucial_ and --=_crucial_ inside</p>"])
def test_the_wire_bytes_are_7bit_crlf_and_read_back_exactly(html: str | None) -> None:
    raw = wire(text=AWKWARD_TEXT, html=html, subject="Élodie — HIGH: CH-TEST01", name="Siân O’Brien")
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 998  # RFC 5322's limit
    assert b"x" * 77 not in raw and b"y" * 77 not in raw  # long lines broken softly (quoted-printable)
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "Élodie — HIGH: CH-TEST01"
    assert msg["To"].addresses[0].display_name == "Siân O’Brien"
    plain = msg.get_body(("plain",))
    assert plain is not None
    read_back = plain.get_content().replace("\r\n", "\n")
    if html is None:  # a single part ends with the line end SMTP's DATA needs
        assert read_back.endswith("x\n")
        read_back = read_back[:-1]
    assert read_back == AWKWARD_TEXT.replace("\r\n", "\n").replace("\r", "\n")
    if html is None:
        assert msg.get_content_type() == "text/plain"
    else:
        body = msg.get_body(("html",))
        assert body is not None and body.get_content().replace("\r\n", "\n") == html
        assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]


def test_an_international_domain_goes_on_the_wire_in_ascii() -> None:
    msg = email.message_from_bytes(wire(address="duty@bücher.example"), policy=default_policy)
    assert msg["To"].addresses[0].addr_spec == "duty@xn--bcher-kva.example"


def test_build_message_is_the_wire_bytes_read_back() -> None:
    raw = wire()
    note = make_notification(channel="email", address=TO, now=NOW, html="<p>Full <b>detail</b></p>")
    built = build_message(note, sender="alerts@crucial.example", sender_name="Crucial Hour", message_id_domain="crucial.example")
    assert built.as_bytes() == email.message_from_bytes(raw).as_bytes()


def test_one_line() -> None:
    assert one_line("a\r\n b\tc\x00d") == "a b c d"
    assert len(one_line("x" * 500)) == 200


@pytest.mark.parametrize(
    "address",
    ["duty@met.police.example\r\nBcc: x@y.example", "a@b", "two@@b.example", "<a@b.example>", "a b@c.example", "ü@b.example"],
)
def test_addresses_that_could_break_a_header_are_refused(address: str) -> None:
    for _ in range(2):  # refused every time: a refusal is never cached as an answer
        with pytest.raises(DeliveryError) as caught:
            check_address(address)
        assert (caught.value.reason, caught.value.retryable) == ("invalid_address", False)


def test_an_address_seen_before_is_not_validated_again() -> None:
    check_address("seen.before@met.police.example")
    hits = check_address.cache_info().hits
    assert check_address("seen.before@met.police.example") == ("seen.before@met.police.example", "met.police.example")
    assert check_address.cache_info().hits == hits + 1


def test_domain_allow_list() -> None:
    allowed = ["met.police.example", "gcsx.gov.example"]
    assert domain_allowed("met.police.example", allowed)
    assert domain_allowed("secure.gcsx.gov.example", allowed)  # a subdomain
    assert not domain_allowed("evilmet.police.example", allowed)
    assert not domain_allowed("met.police.example.attacker.example", allowed)
    assert domain_allowed("anything.example", [])  # empty: any domain


def test_a_recipient_outside_the_allow_list_is_refused_before_connecting() -> None:
    sender = smtp_sender(
        host="127.0.0.1",
        port=9,
        sender="alerts@crucial.example",
        allowed_domains=["gcsx.gov.example"],
        local_hostname="w.example",
    )
    with pytest.raises(DeliveryError) as caught:
        sender.message_for(make_notification(channel="email", address=TO))
    assert (caught.value.reason, caught.value.retryable) == ("domain_not_allowed", False)


def refused(code: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(code, "no", TO)])


TRANSLATIONS: list[tuple[BaseException, str, bool]] = [
    (aiosmtplib.SMTPDataError(451, "try later"), "smtp_4xx", True),
    (aiosmtplib.SMTPDataError(554, "no"), "smtp_5xx", False),
    (aiosmtplib.SMTPSenderRefused(550, "no", "alerts@crucial.example"), "smtp_5xx", False),
    (aiosmtplib.SMTPConnectResponseError(421, "busy"), "smtp_4xx", True),
    (aiosmtplib.SMTPConnectResponseError(554, "go away"), "smtp_5xx", False),
    (refused(450), "smtp_4xx", True),
    (refused(550), "recipient_rejected", False),
    (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), "auth", False),
    (aiosmtplib.SMTPAuthenticationError(454, "try later"), "auth", True),
    (aiosmtplib.SMTPConnectError("refused"), "connection", True),
    (aiosmtplib.SMTPServerDisconnected("gone"), "connection", True),
    (ConnectionRefusedError(), "connection", True),
    (aiosmtplib.SMTPConnectTimeoutError("slow"), "timeout", True),
    (aiosmtplib.SMTPReadTimeoutError("slow"), "timeout", True),
    (TimeoutError(), "timeout", True),
    (ssl.SSLCertVerificationError("bad cert"), "tls", False),
    (aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server"), "not_supported", False),
    (aiosmtplib.SMTPException("SMTP STARTTLS extension not supported by server."), "not_supported", False),
    (aiosmtplib.SMTPException("The SMTP AUTH extension is not supported by this server."), "not_supported", False),
    (aiosmtplib.SMTPException("odd"), "provider_error", True),
]


@pytest.mark.parametrize(("exc", "reason", "retryable"), TRANSLATIONS)
def test_smtp_errors_are_translated(exc: BaseException, reason: str, retryable: bool) -> None:
    error = translate_smtp_error(exc)
    assert (error.reason, error.retryable) == (reason, retryable)
    assert error.reason in reasons.ALL
    assert TO not in str(error)


def test_a_tls_failure_wrapped_by_aiosmtplib_is_still_tls() -> None:
    try:
        try:
            raise ssl.SSLCertVerificationError("bad cert")
        except ssl.SSLError as inner:
            raise aiosmtplib.SMTPConnectError("could not connect") from inner
    except aiosmtplib.SMTPConnectError as outer:
        assert translate_smtp_error(outer).reason == "tls"


def test_a_sender_at_an_international_domain_sends_7bit() -> None:
    sender = smtp_sender(host="127.0.0.1", port=9, sender="alerts@bücher.example", local_hostname="w.example")
    raw = sender.wire_message(make_notification(channel="email", address=TO, html="<p>x</p>"))
    assert raw.isascii()
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert msg["From"].addresses[0].addr_spec == "alerts@xn--bcher-kva.example"
    assert str(msg["Message-ID"]).endswith("@xn--bcher-kva.example>")
