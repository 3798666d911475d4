"""The outgoing webhook channel, pure parts: the payload and its data policy, the Standard Webhooks
signature, the translation of HTTP answers, and its config (subscribers, secrets, contacts)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from alerts.channels import CHANNELS, reasons
from alerts.channels.base import DeliveryError
from alerts.channels.webhook import VERSION, WebhookRenderer, WebhookSender, WebhookSettings, translate_status
from alerts.config import PACKAGE_TEMPLATES, load_config
from alerts.model import Recipient
from alerts.rendering import MessageFacts, Renderer
from alerts.routing import route
from tests.peers.notifications import make_notification
from tests.support import config_error, edit_config, write_config
from tests.unit.test_rendering import facts

SECRET = "whsec_" + base64.b64encode(b"crucial-hour-test-secret-32-bytes").decode()
OTHER = "whsec_" + base64.b64encode(b"another-subscriber-secret-bytes!!").decode()
NOW = datetime.now(UTC)


def webhook_renderer(renderer: Renderer) -> WebhookRenderer:
    made = renderer.channel("webhook")
    assert isinstance(made, WebhookRenderer)
    return made


def rendered(policies: dict[str, str], facts_: MessageFacts, ack_links: Any = None) -> dict[str, Any]:
    renderer = Renderer(PACKAGE_TEMPLATES, ack=ack_links, channel_options={"webhook": {"policies": policies}})
    document: dict[str, Any] = json.loads(renderer.render(facts_, "webhook").text)
    return document


def child_strings(facts_: MessageFacts) -> list[str]:
    child, event = facts_.event.child, facts_.event
    return [
        s
        for s in (child.given_names, child.family_name, child.nationality, event.reporter.callback_phone, event.reporter.name)
        if s
    ]


def test_the_minimum_policy_carries_what_a_control_room_acts_on_and_no_name() -> None:
    f = facts()
    document = rendered({"met": "minimum"}, replace(f, recipient=Recipient(agency_id="met", name="Control", address="met")))
    assert document["type"] == "incident.alert" and document["version"] == VERSION
    data = document["data"]
    assert data["reference"] == f.incident.reference
    assert data["priority"] == f.incident.priority.value
    assert data["kind"] == "alert"
    assert data["last_seen"]["place"] == " ".join(f.event.circumstances.last_seen_place.split())  # type: ignore[union-attr]
    assert datetime.fromisoformat(data["last_seen"]["at"]) == f.event.circumstances.last_seen_at  # type: ignore[union-attr]
    assert data["data_policy"] == "minimum" and "detail" not in data
    text = json.dumps(document, ensure_ascii=False)
    for personal in child_strings(f):
        assert personal not in text


def test_the_full_policy_adds_the_child_placement_and_circumstances() -> None:
    f = facts()
    data = rendered({"case-system": "full"}, replace(f, recipient=Recipient(agency_id="la", name="Case", address="case-system")))[
        "data"
    ]
    assert data["data_policy"] == "full"
    detail = data["detail"]
    assert detail["child"]["given_names"] == f.event.child.given_names
    assert detail["placement"]["postcode"] == f.event.placement.postcode
    assert detail["circumstances"]["last_seen_place"] == f.event.circumstances.last_seen_place  # type: ignore[union-attr]
    assert detail["reporter"]["callback_phone"] == f.event.reporter.callback_phone


def test_each_subscriber_gets_its_own_policy_and_its_own_ack_link() -> None:
    f = facts()
    links = lambda incident, who: f"https://alerts.example/ack/{incident.reference}:{who.tag}"  # noqa: E731
    policies = {"met": "minimum", "case-system": "full"}
    renderer = Renderer(PACKAGE_TEMPLATES, ack=links, channel_options={"webhook": {"policies": policies}})
    assert renderer.personal("webhook")
    met = Recipient(agency_id="met", name="Control", address="met")
    case = Recipient(agency_id="la", name="Case", address="case-system")
    to_met = json.loads(renderer.render(replace(f, recipient=met), "webhook").text)["data"]
    to_case = json.loads(renderer.render(replace(f, recipient=case), "webhook").text)["data"]
    assert "detail" not in to_met and "detail" in to_case
    assert to_met["ack_url"].endswith(met.tag) and to_case["ack_url"].endswith(case.tag)


def test_one_policy_for_all_subscribers_renders_once_per_incident() -> None:
    renderer = Renderer(PACKAGE_TEMPLATES, channel_options={"webhook": {"policies": {"a": "minimum", "b": "minimum"}}})
    assert not renderer.personal("webhook")
    assert not webhook_renderer(renderer).per_recipient


def sender(signed_at: datetime = NOW, **settings: Any) -> WebhookSender:
    subscribers = {"met": {"url": "http://127.0.0.1:9/hooks/met", "secret_env": "X"}}
    made = WebhookSettings.model_validate({"subscribers": subscribers, **settings})
    return WebhookSender(made, {"met": SECRET}, clock=lambda: signed_at)


def test_every_delivery_is_signed_in_the_standard_webhooks_format_for_its_subscriber() -> None:
    note = make_notification(channel="webhook", address="met", text=json.dumps({"type": "incident.alert", "data": {}}))
    # Signed now: the receiver's library refuses a timestamp more than five minutes from its own clock.
    signed_at = datetime.now(UTC).replace(microsecond=0)
    headers = sender(signed_at).headers(note)
    assert headers["webhook-id"] == note.idempotency_key  # the same on every retry: receivers deduplicate
    assert headers["webhook-timestamp"] == str(int(signed_at.timestamp()))
    assert standardwebhooks.Webhook(SECRET).verify(note.message.text, headers) == {"type": "incident.alert", "data": {}}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(note.message.text + " ", headers)  # the body as sent, exactly
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(OTHER).verify(note.message.text, headers)  # another subscriber's secret


def test_a_notification_for_an_unknown_subscriber_fails_for_good() -> None:
    with pytest.raises(DeliveryError) as caught:
        sender().headers(make_notification(channel="webhook", address="nobody"))
    assert (caught.value.reason, caught.value.retryable) == (reasons.INVALID_ADDRESS, False)


@pytest.mark.parametrize(
    ("status", "reason", "retryable"),
    [
        (429, reasons.RATE_LIMITED, True),
        (408, reasons.TIMEOUT, True),
        (500, reasons.PROVIDER_5XX, True),
        (503, reasons.PROVIDER_5XX, True),
        (401, reasons.AUTH, False),
        (403, reasons.AUTH, False),
        (301, reasons.REDIRECTED, False),
        (400, reasons.REJECTED_4XX, False),
        (404, reasons.REJECTED_4XX, False),
        (410, reasons.REJECTED_4XX, False),
    ],
)
def test_http_answers_translate_to_bounded_reasons(status: int, reason: str, retryable: bool) -> None:
    error = translate_status(status, "7")
    assert error is not None and (error.reason, error.retryable) == (reason, retryable)
    assert error.reason in reasons.ALL and error.detail == f"HTTP {status}"
    assert (error.retry_after_s == 7.0) == (status == 429)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_accepted(status: int) -> None:
    assert translate_status(status) is None


# --- config -------------------------------------------------------------------------------------

SUBSCRIBERS = {"met-control-room": {"url": "https://control.met.example/hooks/crucial", "secret_env": "CRUCIAL_TEST_WEBHOOK_MET"}}


def webhook_config(tmp_path: Path, **webhooks: Any) -> Path:
    directory = write_config(tmp_path / "config", webhooks={"subscribers": SUBSCRIBERS, **webhooks})

    def add_contact(data: dict[str, Any]) -> None:
        data["agencies"]["met-police-mispers"]["contacts"].append({"name": "Met control room", "webhook": "met-control-room"})

    edit_config(directory, "agencies.yaml", add_contact)
    return directory


def test_a_rule_routes_to_the_webhook_with_no_domain_code(tmp_path: Path) -> None:
    directory = webhook_config(tmp_path)
    rule = {"name": "the Met's control room", "notify": ["met-police-mispers"], "channels": ["webhook"]}
    edit_config(directory, "routing.yaml", lambda d: d["rules"].insert(0, rule))
    f = facts()
    routes = route(f.incident, f.profile, load_config(directory), event=f.event)
    first = routes[0]
    assert (first.channel, first.recipient.agency_id, first.recipient.address) == (
        "webhook",
        "met-police-mispers",
        "met-control-room",
    )
    assert first.rules[0] == "the Met's control room"
    # the rule lists only the webhook: the agency's sms/email contacts are not chosen by it
    assert all(r.channel == "webhook" for r in routes if "the Met's control room" in r.rules)


def test_a_contact_naming_an_unknown_subscriber_is_refused(tmp_path: Path) -> None:
    directory = webhook_config(tmp_path)
    edit_config(
        directory, "agencies.yaml", lambda d: d["agencies"]["met-police-mispers"]["contacts"][-1].update(webhook="nobody")
    )
    error = str(config_error(directory))
    assert "agencies.yaml: agencies.met-police-mispers.contacts[" in error
    assert "].webhook: unknown subscriber 'nobody'" in error and "met-control-room" in error


def test_plain_http_is_refused_but_to_this_machine(tmp_path: Path) -> None:
    plain = {"met-control-room": {**SUBSCRIBERS["met-control-room"], "url": "http://control.met.example/hook"}}
    error = str(config_error(webhook_config(tmp_path, subscribers=plain)))
    assert "webhooks.subscribers.met-control-room.url: plain http would send alerts unencrypted" in error
    local = {"met-control-room": {**SUBSCRIBERS["met-control-room"], "url": "http://127.0.0.1:8080/hook"}}
    load_config(webhook_config(tmp_path / "local", subscribers=local))


def test_a_subscriber_without_a_secret_is_refused(tmp_path: Path) -> None:
    error = str(config_error(webhook_config(tmp_path, subscribers={"met-control-room": {"url": "https://a.example/h"}})))
    assert "webhooks.subscribers.met-control-room: no secret: set secret_env" in error


def test_a_secret_plainly_in_config_is_refused(tmp_path: Path) -> None:
    written = {"met-control-room": {**SUBSCRIBERS["met-control-room"], "secret": SECRET}}
    assert "a secret is written in plain config" in str(config_error(webhook_config(tmp_path, subscribers=written)))


def test_check_config_reads_each_subscribers_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.pipeline.checks import secret_problems

    config = load_config(webhook_config(tmp_path))
    monkeypatch.delenv("CRUCIAL_TEST_WEBHOOK_MET", raising=False)
    errors, _ = secret_problems(config)
    assert any("webhooks.subscribers.met-control-room.secret is not set" in str(e) for e in errors)
    monkeypatch.setenv("CRUCIAL_TEST_WEBHOOK_MET", "not-base64!")
    errors, _ = secret_problems(config)
    assert any("not a Standard Webhooks secret" in str(e) for e in errors)
    monkeypatch.setenv("CRUCIAL_TEST_WEBHOOK_MET", SECRET)
    errors, _ = secret_problems(config)
    assert not [e for e in errors if "webhook" in str(e)]


def test_an_unknown_contact_key_names_the_registered_channels(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config")
    edit_config(directory, "agencies.yaml", lambda d: d["agencies"]["met-police-mispers"]["contacts"][0].update(pager="123"))
    error = str(config_error(directory))
    assert "unknown key 'pager'" in error
    assert f"registered: {', '.join(CHANNELS.names)}" in error


def test_the_documented_examples_are_what_the_channel_renders() -> None:
    """docs/webhooks.md's two examples are the channel's output for the synthetic report (the ack
    links aside, which are signed with a random key): the docs cannot drift from the code."""
    from tests.support import REPO

    text = (REPO / "docs" / "webhooks.md").read_text()
    blocks = [json.loads(b.split("```", 1)[0]) for b in text.split("```json\n")[1:]]
    assert len(blocks) == 2
    f = facts()
    links = lambda incident, who: f"https://alerts.example/ack/{incident.reference}:{who.tag}.1784068500.q3Vx0Yh8kJ2m"  # noqa: E731
    for documented, subscriber in zip(blocks, ("met-control-room", "case-system"), strict=True):
        policies = {"met-control-room": "minimum", "case-system": "full"}
        renderer = Renderer(PACKAGE_TEMPLATES, ack=links, channel_options={"webhook": {"policies": policies}})
        who = Recipient(agency_id="x", name="y", address=subscriber)
        assert json.loads(renderer.render(replace(f, recipient=who), "webhook").text) == documented
