"""Who may change which incident, and what identifies a report, on a real worker and broker (issue 12):
provider B's return for provider A's child is only a claim that people are asked to confirm; references
are the server's, one per (provider, event id); a changed body under a known id is a 409, kept."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from alerts.authority import incident_ids
from alerts.model import Incident
from streams.web.acklinks import AckLinks
from streams.web.auth import Signer
from tests.ingest_support import (
    BOARD_PASSWORD,
    BOARD_USER,
    OTHER_API_KEY,
    Reply,
    cookies_of,
    csrf_in,
    post_event,
    post_form,
    prepare_ingest_worker,
    request,
)
from tests.integration.worker import RunningWorker
from tests.support import make_event

pytestmark = pytest.mark.integration

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk
BRENTSIDE_PLACEMENT = {"id": "plc-brent-03", "name": "Brentside house", "local_authority": "Brent", "postcode": "NW10 9ZZ"}


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_ingest_worker(tmp_path_factory.mktemp("isolation"), kafka_bootstrap, other_per_minute=600, other_burst=100)
    running.start()
    try:
        yield running
    finally:
        running.close()


def child() -> str:
    return f"HAR-I-{uuid.uuid4().hex[:6]}"


def records_of(worker: RunningWorker, reference: str, until: Any) -> list[dict[str, Any]]:
    """The incident records of `reference` once `until(records)` holds."""
    records = worker.read(worker.topics.incidents, lambda rs: until([r for r in rs if r["incident"]["reference"] == reference]))
    return [r for r in records if r["incident"]["reference"] == reference]


def open_incident(worker: RunningWorker, child_reference: str) -> dict[str, Any]:
    reply = post_event(worker.port, make_event(child_reference=child_reference, identifiers=FLAGGED))
    assert reply.status == 202, reply.body
    reference = reply.json()["reference"]
    opened = records_of(worker, reference, lambda rs: any(r["change"] == "opened" for r in rs))
    incident: dict[str, Any] = opened[0]["incident"]
    return incident


def board_session(port: int) -> tuple[dict[str, str], str]:
    login = request(port, "GET", "/board/login")
    reply = post_form(
        port,
        "/board/login",
        {"username": BOARD_USER, "password": BOARD_PASSWORD, "csrf_token": csrf_in(login)},
        cookies_of(login),
    )
    assert reply.status == 303, reply.body[:300]
    cookies = {"crucial_board": cookies_of(reply)["crucial_board"]}
    page = request(port, "GET", "/board", headers={"Cookie": f"crucial_board={cookies['crucial_board']}"})
    assert page.status == 200
    return cookies, csrf_in(page)


def test_another_providers_return_leaves_the_incident_open_and_asks_for_confirmation(worker: RunningWorker) -> None:
    incident = open_incident(worker, child())
    reference = incident["reference"]
    returned = make_event(type="returned", child_reference=incident["child_reference"])
    returned["placement"] = BRENTSIDE_PLACEMENT  # B's own placement, A's child
    reply = post_event(worker.port, returned, key=OTHER_API_KEY)
    assert reply.status == 202
    assert reply.json()["reference"] is None and "unverified claim" in reply.json()["note"]  # B is not told A's reference

    claimed = records_of(worker, reference, lambda rs: any(r["incident"]["claims"] for r in rs))
    latest = claimed[-1]["incident"]
    assert latest["status"] == "open"
    assert all(r["change"] != "resolved" for r in claimed)
    claim = latest["claims"][0]
    assert claim["sender"] == "brentside-homes" and claim["type"] == "returned" and claim["status"] == "unverified"
    assert any("UNVERIFIED claim" in e["what"] for e in latest["timeline"])
    # Everyone the incident alerted is asked to confirm; nobody is told to stand down.
    notes = worker.read(
        worker.topics.notifications,
        lambda rs: sum(1 for n in rs if n["incident_reference"] == reference and n["kind"] == "claim") >= len(latest["alerted"]),
    )
    mine = [n for n in notes if n["incident_reference"] == reference]
    assert {n["kind"] for n in mine} == {"alert", "claim"}
    sms = next(n for n in mine if n["kind"] == "claim" and n["channel"] == "sms")
    assert f"CONFIRM {reference} {claim['claim_id']}" in sms["message"]["text"] and "NOT applied" in sms["message"]["text"]

    # The duty team confirms it on the board: only then does the incident stand down.
    cookies, csrf = board_session(worker.port)
    board = request(worker.port, "GET", "/board/incidents", headers={"Cookie": f"crucial_board={cookies['crucial_board']}"})
    assert f"/board/claims/{reference}/{claim['claim_id']}" in board.body.decode()
    confirmed = post_form(worker.port, f"/board/claims/{reference}/{claim['claim_id']}", {"csrf_token": csrf}, cookies)
    assert confirmed.status == 200 and "recorded" in confirmed.body.decode()  # answered once on the record
    resolved = records_of(worker, reference, lambda rs: any(r["change"] == "resolved" for r in rs))
    final = next(r for r in resolved if r["change"] == "resolved")["incident"]
    assert final["claims"][0]["status"] == "confirmed" and final["claims"][0]["confirmed_by"]["agency_id"] == "board"
    assert any("confirmed by MASH duty manager" in e["what"] for e in final["timeline"])
    # Confirming again records nothing, and says so.
    again = post_form(worker.port, f"/board/claims/{reference}/{claim['claim_id']}", {"csrf_token": csrf}, cookies)
    assert again.status == 409 and "nothing was recorded" in again.body.decode()


def test_the_owners_update_is_applied_and_answered_with_the_incidents_reference(worker: RunningWorker) -> None:
    incident = open_incident(worker, child())
    update = make_event(type="update", child_reference=incident["child_reference"])
    reply = post_event(worker.port, update)
    assert reply.status == 202 and reply.json()["reference"] == incident["reference"]
    updated = records_of(
        worker,
        incident["reference"],
        lambda rs: any(
            "from the placement" in e["what"] for r in rs for e in r["incident"]["timeline"] if e["what"].startswith("update")
        ),
    )
    assert not updated[-1]["incident"]["claims"]


def test_a_direct_producers_return_for_anothers_child_is_a_claim(worker: RunningWorker) -> None:
    """On Kafka the provider is the crucial-provider header (trusted per ACL), not the body's placement."""
    incident = open_incident(worker, child())
    returned = make_event(type="returned", child_reference=incident["child_reference"])  # Larchwood's placement in the body
    producer = KafkaProducer(bootstrap_servers=worker.config.settings.kafka.bootstrap, acks="all")
    producer.send(
        worker.topics.placement_events,
        key=incident["child_reference"].encode(),
        value=json.dumps(returned).encode(),
        headers=[("crucial-provider", b"brentside-homes")],
    )
    producer.flush()
    producer.close()
    claimed = records_of(worker, incident["reference"], lambda rs: any(r["incident"]["claims"] for r in rs))
    assert claimed[-1]["incident"]["status"] == "open" and claimed[-1]["incident"]["claims"][0]["sender"] == "brentside-homes"


def test_two_providers_one_event_id_two_children_two_incidents(worker: RunningWorker) -> None:
    event_id = f"evt-shared-{uuid.uuid4().hex[:8]}"
    first = make_event(child_reference=child(), identifiers=FLAGGED, event_id=event_id)
    second = make_event(child_reference=child(), identifiers=FLAGGED, event_id=event_id)
    second["placement"] = BRENTSIDE_PLACEMENT
    a, b = post_event(worker.port, first), post_event(worker.port, second, key=OTHER_API_KEY)
    assert a.status == b.status == 202
    assert a.json()["reference"] == incident_ids(event_id, "larchwood-care")[1]
    assert b.json()["reference"] == incident_ids(event_id, "brentside-homes")[1] != a.json()["reference"]
    for reply, event in ((a, first), (b, second)):
        opened = records_of(worker, reply.json()["reference"], lambda rs: any(r["change"] == "opened" for r in rs))
        assert opened[0]["incident"]["child_reference"] == event["child"]["reference"]


def test_a_changed_body_under_a_known_id_is_409_and_kept(worker: RunningWorker) -> None:
    first = make_event(child_reference=child(), identifiers=FLAGGED)
    accepted = post_event(worker.port, first)
    assert accepted.status == 202
    reference = accepted.json()["reference"]
    retry = dict(first, reported_at=first["reported_at"])  # the identical body again: idempotent
    assert post_event(worker.port, retry).json()["reference"] == reference

    changed = json.loads(json.dumps(first))
    changed["child"]["reference"] = child()  # the same event id for another child
    conflict = post_event(worker.port, changed)
    assert conflict.status == 409
    assert conflict.json()["reference"] == reference
    reason = conflict.json()["reasons"][0]
    assert reason.startswith(f"event_id: '{first['event_id']}' was already sent with a different body")
    kept = worker.read(worker.topics.rejected, lambda rs: any(reason in r["reasons"] for r in rs))
    record = next(r for r in kept if reason in r["reasons"])
    assert record["source"] == "api:larchwood-care" and json.loads(record["raw"]) == changed
    # The first child's incident is untouched, and no second one opened.
    records = records_of(worker, reference, lambda rs: bool(rs))
    assert {r["incident"]["child_reference"] for r in records} == {first["child"]["reference"]}


def test_a_changed_body_straight_on_kafka_is_kept_with_its_reason(worker: RunningWorker) -> None:
    first = make_event(child_reference=child(), identifiers=FLAGGED)
    reference = open_incident_from(worker, first)
    changed = json.loads(json.dumps(first))
    changed["circumstances"]["last_seen_place"] = "somewhere else"
    worker.emit(changed)
    kept = worker.read(
        worker.topics.rejected, lambda rs: any(r["reasons"][0].startswith(f"event_id: '{first['event_id']}'") for r in rs)
    )
    assert any(f"(reference {reference})" in r["reasons"][0] for r in kept)


def open_incident_from(worker: RunningWorker, event: dict[str, Any]) -> str:
    reply = post_event(worker.port, event)
    assert reply.status == 202
    reference = str(reply.json()["reference"])
    records_of(worker, reference, lambda rs: any(r["change"] == "opened" for r in rs))
    return reference


def ack_link(worker: RunningWorker, incident: dict[str, Any]) -> str:
    links = AckLinks(Signer([worker.env["CRUCIAL_LINK_SECRET"].encode()], "ack"), "", timedelta(days=1))
    model = Incident.model_validate_json(json.dumps(incident))
    return links(model, model.alerted[0].recipient)


def test_an_acknowledgement_link_answers_once_it_is_recorded_and_says_when_it_could_not_be(worker: RunningWorker) -> None:
    incident = open_incident(worker, child())
    path = ack_link(worker, incident)
    reply: Reply = request(worker.port, "POST", path)
    assert reply.status == 200
    # Answered only after the acknowledgement is on the incident's record: it is there already.
    acked = records_of(worker, incident["reference"], lambda rs: any(r["change"] == "acknowledged" for r in rs))
    assert acked
    # Once the incident is closed, the link says nothing was recorded.
    returned = make_event(type="returned", child_reference=incident["child_reference"])
    assert post_event(worker.port, returned).status == 202
    records_of(worker, incident["reference"], lambda rs: any(r["change"] == "resolved" for r in rs))
    deadline = time.monotonic() + 30
    while True:  # wait for this worker's directory to see it closed
        closed = request(worker.port, "POST", path)
        if closed.status == 410 or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # polling for a condition
    assert closed.status == 410 and "closed" in closed.body.decode()


def test_every_response_has_no_store_and_the_security_headers(worker: RunningWorker) -> None:
    cookies, _ = board_session(worker.port)
    signed_in = {"Cookie": f"crucial_board={cookies['crucial_board']}"}
    for path, headers in (
        ("/board/data.json", signed_in),  # names a child
        ("/board/incidents", signed_in),
        ("/board/incidents", {}),
        ("/v1/openapi.json", {}),
        ("/ready", {}),
        ("/report/login", {}),
    ):
        reply = request(worker.port, "GET", path, headers=headers)
        assert reply.headers.get("Cache-Control") == "no-store", path
        assert reply.headers.get("X-Content-Type-Options") == "nosniff", path
        assert reply.headers.get("X-Frame-Options") == "DENY", path
        assert "frame-ancestors 'none'" in reply.headers.get("Content-Security-Policy", ""), path


def test_board_sign_in_refuses_unknown_users_and_sign_out_revokes(worker: RunningWorker) -> None:
    login = request(worker.port, "GET", "/board/login")
    unknown = post_form(
        worker.port,
        "/board/login",
        {"username": "no.such.user", "password": "x" * 12, "csrf_token": csrf_in(login)},
        cookies_of(login),
    )
    assert unknown.status == 401
    cookies, csrf = board_session(worker.port)
    cookie = {"Cookie": f"crucial_board={cookies['crucial_board']}"}
    assert request(worker.port, "GET", "/board/data.json", headers=cookie).status == 200
    out = post_form(worker.port, "/board/logout", {"csrf_token": csrf}, cookies)
    assert out.status == 303
    assert request(worker.port, "GET", "/board/data.json", headers=cookie).status == 401  # the copied cookie is void


def test_the_form_sent_twice_is_one_report_and_changed_details_under_its_id_are_409(worker: RunningWorker) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from tests.ingest_support import FLAGGED_CHILD, sign_in

    cookies, csrf = sign_in(worker.port)
    seen = datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%dT%H:%M")
    fields = {
        "child": FLAGGED_CHILD,
        "last_seen_at": seen,
        "last_seen_place": "Back gate",
        "callback_phone": "07700900401",
        "event_id": f"form-larchwood-care-{uuid.uuid4().hex[:12]}",
        "csrf_token": csrf,
    }
    first = post_form(worker.port, "/report", fields, cookies)
    second = post_form(worker.port, "/report", fields, cookies)  # Send pressed again: reported_at differs
    assert first.status == second.status == 303
    receipt = request(
        worker.port, "GET", first.headers["Location"], headers={"Cookie": f"crucial_report={cookies['crucial_report']}"}
    )
    again = request(
        worker.port, "GET", second.headers["Location"], headers={"Cookie": f"crucial_report={cookies['crucial_report']}"}
    )
    reference = receipt.body.decode().split("CH-")[1][:6]
    assert f"CH-{reference}" in again.body.decode()
    changed = post_form(worker.port, "/report", {**fields, "last_seen_place": "Front door"}, cookies)
    assert changed.status == 409 and f"already sent as CH-{reference}" in changed.body.decode()
    assert 'value="Front door"' in changed.body.decode()  # nothing typed is lost
    assert fields["event_id"] not in changed.body.decode()  # a fresh id to send it as a new report


def test_the_cli_names_its_provider_and_the_same_rule_applies(worker: RunningWorker, tmp_path: Path) -> None:
    from streams.cli.main import main

    incident = open_incident(worker, child())
    returned = tmp_path / "returned.json"
    returned.write_text(json.dumps(make_event(type="returned", child_reference=incident["child_reference"])))
    assert main(["emit", str(returned), "--provider", "nobody-configured", "--config", str(worker.config_dir)]) == 2
    assert main(["emit", str(returned), "--provider", "brentside-homes", "--config", str(worker.config_dir)]) == 0
    claimed = records_of(worker, incident["reference"], lambda rs: any(r["incident"]["claims"] for r in rs))
    assert claimed[-1]["incident"]["status"] == "open"
    # Without --provider the CLI speaks for the placement's provider: the owner, so it stands down.
    own = tmp_path / "own.json"
    own.write_text(json.dumps(make_event(type="returned", child_reference=incident["child_reference"])))
    assert main(["emit", str(own), "--config", str(worker.config_dir)]) == 0
    records_of(worker, incident["reference"], lambda rs: any(r["change"] == "resolved" for r in rs))


def test_a_changed_password_ends_the_sessions_opened_before(worker: RunningWorker) -> None:
    """Last in this module: it restarts the worker with a new password hash in providers.yaml."""
    import yaml

    from streams.web.auth import hash_password
    from tests.ingest_support import PASSWORD, USERNAME, sign_in

    cookies, _ = sign_in(worker.port)
    cookie = {"Cookie": f"crucial_report={cookies['crucial_report']}"}
    assert request(worker.port, "GET", "/report", headers=cookie).status == 200
    path = worker.config_dir / "providers.yaml"
    providers = yaml.safe_load(path.read_text())
    providers["providers"]["larchwood-care"]["staff"][USERNAME]["password_hash"] = hash_password(PASSWORD + "-new")
    path.write_text(yaml.safe_dump(providers, sort_keys=False))
    worker.stop()
    worker.start()
    refused = request(worker.port, "GET", "/report", headers=cookie)
    assert refused.status == 303 and refused.headers["Location"] == "/report/login"
