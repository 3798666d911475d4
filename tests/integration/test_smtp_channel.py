"""Email through aiosmtplib against aiosmtpd on 127.0.0.1 with STARTTLS (or implicit TLS) and AUTH
required: multipart delivered, Message-ID deterministic, 4xx retried and 5xx not, TLS verified, no
header injection, the allow-list enforced before connecting."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from alerts.channels.base import DeliveryError
from alerts.channels.retry import RetryPolicy, send_with_retry
from alerts.channels.smtp_email import SmtpEmailSender, Tls
from tests.peers.certs import CertPaths
from tests.peers.notifications import SMTP_USER, make_notification, smtp_sender
from tests.peers.remote import RemoteSmtpPeer
from tests.peers.smtp_server import SmtpPeer, free_port

pytest_plugins = ["tests.peers.fixtures"]
# aiosmtpd 1.4 warns that AUTH does not require STARTTLS on the implicit-TLS peer, where TLS is throughout.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

TO = "duty.inspector@met.police.example"
SENDER = "alerts@crucial.example"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, budget_s=10)


def make_sender(peer: SmtpPeer, password: str, tls: Tls = "starttls", **overrides: Any) -> SmtpEmailSender:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": peer.port,
        "sender": SENDER,
        "tls": tls,
        "username": SMTP_USER,
        "password": password,
        "ca_file": peer.ca_file,
        "local_hostname": "worker.crucial.example",
        "timeout_s": 5,
        "retry_policy": FAST_RETRY,
    }
    options.update(overrides)
    return smtp_sender(**options)


def email(**kwargs: Any) -> Any:
    return make_notification(channel="email", address=TO, html="<p>Full <b>detail</b> &amp; timeline</p>", **kwargs)


async def test_multipart_over_starttls_with_auth(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    note = email()
    accepted = await make_sender(smtp_peer, smtp_password).send(note)
    [mail] = smtp_peer.messages
    assert (mail.mail_from, mail.rcpt_tos, mail.login, mail.tls) == (SENDER, [TO], SMTP_USER, True)
    msg = mail.message
    assert msg["Message-ID"] == accepted.provider_id == f"<{note.idempotency_key}@crucial.example>"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == note.message.text
    assert html is not None and "<b>detail</b>" in html.get_content()
    assert smtp_peer.auth_attempts == [(SMTP_USER, True)]


async def test_implicit_tls(smtp_peer_implicit: SmtpPeer, smtp_password: str) -> None:
    await make_sender(smtp_peer_implicit, smtp_password, tls="implicit").send(email())
    assert smtp_peer_implicit.messages[0].tls


async def test_the_same_notification_is_the_same_message(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password)
    note = email()
    await sender.send(note)
    await sender.send(note)  # a replay after a crash
    first, again = (m.message for m in smtp_peer.messages)
    for header in ("Message-ID", "Date", "Subject", "References"):
        assert first[header] == again[header]


async def test_a_4xx_is_retried(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    smtp_peer.fail_next(451, times=2)
    accepted = await send_with_retry(make_sender(smtp_peer, smtp_password), email())
    assert accepted.attempts == 3
    assert len(smtp_peer.messages) == 1


async def test_a_4xx_to_the_recipient_is_retried(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    smtp_peer.fail_recipient(TO, 450, times=1)
    accepted = await send_with_retry(make_sender(smtp_peer, smtp_password), email())
    assert accepted.attempts == 2


@pytest.mark.parametrize(("stage", "reason"), [("DATA", "smtp_5xx"), ("MAIL", "smtp_5xx"), ("RCPT", "recipient_rejected")])
async def test_a_5xx_is_not_retried(smtp_peer: SmtpPeer, smtp_password: str, stage: str, reason: str) -> None:
    if stage == "RCPT":
        smtp_peer.fail_recipient(TO, 550)
    else:
        smtp_peer.fail_next(554, stage=stage)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as caught:
        await send_with_retry(make_sender(smtp_peer, smtp_password), email())
    assert (caught.value.reason, caught.value.retryable, caught.value.attempts) == (reason, False, 1)
    assert smtp_peer.messages == []
    assert TO not in str(caught.value)


async def test_wrong_password_is_auth(smtp_peer: SmtpPeer) -> None:
    with pytest.raises(DeliveryError) as caught:
        await make_sender(smtp_peer, "not-the-password").send(email())
    assert (caught.value.reason, caught.value.retryable) == ("auth", False)
    assert smtp_peer.auth_attempts and all(attempt == (SMTP_USER, False) for attempt in smtp_peer.auth_attempts)
    assert smtp_peer.messages == []


async def test_an_untrusted_certificate_is_refused(smtp_peer: SmtpPeer, smtp_password: str, tmp_path: Path) -> None:
    from tests.peers.certs import make_certs

    other_ca = make_certs(tmp_path / "other").ca
    with pytest.raises(DeliveryError) as caught:
        await make_sender(smtp_peer, smtp_password, ca_file=other_ca).send(email())
    assert (caught.value.reason, caught.value.retryable) == ("tls", False)
    assert smtp_peer.messages == [] and smtp_peer.auth_attempts == []  # the password never left


async def test_a_server_without_starttls_is_refused(peer_certs: CertPaths, smtp_password: str) -> None:
    with SmtpPeer(certs=None, mode="none") as plain:
        with pytest.raises(DeliveryError) as caught:
            await make_sender(plain, smtp_password, ca_file=peer_certs.ca).send(email())
        assert (caught.value.reason, caught.value.retryable) == ("not_supported", False)
        assert plain.messages == []


async def test_down_then_up(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password)
    smtp_peer.stop()
    with pytest.raises(DeliveryError) as caught:
        await sender.send(email())
    assert (caught.value.reason, caught.value.retryable) == ("connection", True)

    async def restart(attempt: int) -> None:
        if attempt == 2:
            await asyncio.to_thread(smtp_peer.start)

    accepted = await send_with_retry(sender, email(), on_attempt=restart)
    assert accepted.attempts == 2
    assert len(smtp_peer.messages) == 1


async def test_one_authenticated_session_carries_many_messages(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password)
    for _ in range(5):
        await sender.send(email())
    assert len({mail.client_port for mail in smtp_peer.messages}) == 1
    assert all(mail.login == SMTP_USER and mail.tls for mail in smtp_peer.messages)
    assert smtp_peer.auth_attempts == [(SMTP_USER, True)]  # logged in once, not per message
    assert smtp_peer.quits == 0
    await sender.close()  # at the worker's shutdown
    assert smtp_peer.quits == 1


async def test_concurrent_messages_use_at_most_max_concurrency_sessions(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password, max_concurrency=3)
    await asyncio.gather(*(sender.send(email()) for _ in range(30)))
    await asyncio.gather(*(sender.send(email()) for _ in range(30)))
    assert len(smtp_peer.messages) == 60
    assert 1 <= len({mail.client_port for mail in smtp_peer.messages}) <= 3
    await sender.close()


async def test_a_session_the_server_dropped_is_replaced_without_a_failure(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password)
    await sender.send(email())
    await asyncio.to_thread(smtp_peer.stop)  # drops the idle session
    await asyncio.to_thread(smtp_peer.start)
    await sender.send(email())
    first, second = smtp_peer.messages
    assert first.client_port != second.client_port


async def test_a_server_gone_with_a_session_kept_is_a_retryable_connection_error(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password)
    await sender.send(email())
    await asyncio.to_thread(smtp_peer.stop)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(email())
    assert (caught.value.reason, caught.value.retryable) == ("connection", True)


async def test_nothing_listening_is_a_retryable_connection_error(smtp_password: str, peer_certs: CertPaths) -> None:
    sender = smtp_sender(
        host="127.0.0.1", port=free_port(), sender=SENDER, ca_file=peer_certs.ca, local_hostname="w.example", timeout_s=2
    )
    with pytest.raises(DeliveryError) as caught:
        await sender.send(email())
    assert (caught.value.reason, caught.value.retryable) == ("connection", True)


async def test_no_header_injection_end_to_end(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    hostile = "Alert\r\nBcc: thief@attacker.example\r\nX-Evil: 1"
    await make_sender(smtp_peer, smtp_password).send(email(subject=hostile, name=hostile))
    [mail] = smtp_peer.messages
    assert mail.rcpt_tos == [TO]
    msg = mail.message
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == "Alert Bcc: thief@attacker.example X-Evil: 1"


async def test_a_domain_outside_the_allow_list_never_connects(smtp_peer: SmtpPeer, smtp_password: str) -> None:
    sender = make_sender(smtp_peer, smtp_password, allowed_domains=["gcsx.gov.example"])
    with pytest.raises(DeliveryError) as caught:
        await send_with_retry(sender, email())
    assert (caught.value.reason, caught.value.retryable, caught.value.attempts) == ("domain_not_allowed", False, 1)
    assert smtp_peer.auth_attempts == []
    allowed = make_sender(smtp_peer, smtp_password, allowed_domains=["police.example"])
    await allowed.send(email())  # a subdomain of an allowed domain
    assert len(smtp_peer.messages) == 1


async def test_the_server_as_a_subprocess(tmp_path: Path, smtp_password: str) -> None:
    record = tmp_path / "mail.jsonl"
    peer = await asyncio.to_thread(RemoteSmtpPeer.spawn, tmp_path / "certs", password=smtp_password, record=record)
    sender = smtp_sender(
        host="127.0.0.1",
        port=peer.port,
        sender=SENDER,
        username=SMTP_USER,
        password=smtp_password,
        ca_file=peer.ca_file,
        local_hostname="worker.crucial.example",
        timeout_s=5,
    )
    try:
        await asyncio.to_thread(peer.fail, code=451)
        with pytest.raises(DeliveryError) as caught:
            await sender.send(email())
        assert caught.value.reason == "smtp_4xx"
        await asyncio.to_thread(peer.down)
        with pytest.raises(DeliveryError) as caught:
            await sender.send(email())
        assert caught.value.reason == "connection"
        await asyncio.to_thread(peer.up)
        accepted = await sender.send(email())
        received = await asyncio.to_thread(peer.messages)
    finally:
        await asyncio.to_thread(peer.stop)
    assert [m["message_id"] for m in received] == [accepted.provider_id]
    [line] = [json.loads(text) for text in record.read_text().splitlines()]
    assert line["rcpt_tos"] == [TO] and line["login"] == SMTP_USER and line["tls"] is True


async def test_certificates_from_the_openssl_command_work_too(tmp_path: Path, smtp_password: str) -> None:
    """The fallback when the cryptography package is not installed."""
    from tests.peers.certs import make_certs

    certs = make_certs(tmp_path / "openssl", use_openssl=True)
    with SmtpPeer(certs=certs, users={SMTP_USER: smtp_password}) as peer:
        await make_sender(peer, smtp_password).send(email())
        assert peer.messages[0].tls
