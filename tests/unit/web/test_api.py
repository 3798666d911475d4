"""POST /v1/events request handling, on aiohttp's test server with an in-memory intake (no Kafka);
and the OpenAPI description: generated from the contract, committed, never drifting."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter

from alerts.config import load_config
from alerts.model import PlacementEvent
from alerts.placements import PlacementRegister, parse_placement
from alerts.triage import incident_ids
from streams.web.api import IngestApi, Unavailable
from streams.web.auth import ProviderAuthenticator, hash_api_key, sign_request
from streams.web.openapi import openapi_document, openapi_text
from tests.support import REPO, make_event, sample_placements

Client = TestClient[web.Request, web.Application]

KEY, OTHER_KEY, HMAC_SECRET = "chk_unit-larchwood", "chk_unit-brentside", b"h" * 32


def sample_register() -> PlacementRegister:
    register = PlacementRegister()
    for placement in sample_placements():
        register.upsert(parse_placement(json.dumps(placement)))
    return register


def ready_event() -> asyncio.Event:
    ready = asyncio.Event()
    ready.set()
    return ready


@dataclass
class MemoryIntake:
    """Stands in for streams.web.api.Intake: what was produced and rejected, and failures on demand."""

    settings: Any
    providers: Any
    requests: Counter
    produced: list[PlacementEvent] = field(default_factory=list)
    rejections: list[tuple[bytes, list[str], str]] = field(default_factory=list)
    fail: bool = False
    placements: PlacementRegister = field(default_factory=sample_register)
    placements_ready: asyncio.Event = field(default_factory=ready_event)

    async def submit(self, event: PlacementEvent, raw: bytes, route: str, started: float, provider_id: str) -> dict[str, Any]:
        if self.fail:
            raise Unavailable("test")
        self.produced.append(event)
        return {"status": "accepted", "reference": incident_ids(event.event_id, provider_id)[1], "event_id": event.event_id}

    async def reject(self, raw: bytes, reasons: list[str], source: str) -> None:
        if self.fail:
            raise Unavailable("test")
        self.rejections.append((raw, reasons, source))


@pytest.fixture
def intake() -> MemoryIntake:
    config = load_config(REPO / "config")
    providers = config.providers.model_copy(deep=True)
    larchwood, brentside = providers.providers["larchwood-care"], providers.providers["brentside-homes"]
    object.__setattr__(larchwood.api_keys[0], "sha256", hash_api_key(KEY))
    object.__setattr__(brentside.api_keys[0], "sha256", hash_api_key(OTHER_KEY))
    object.__setattr__(brentside.rate_limit, "burst", 2)
    object.__setattr__(providers.ingest, "max_body_bytes", 2048)
    object.__setattr__(providers.ingest, "failed_auth_per_minute", 5)
    counter = Counter("t_requests", "test", ["route", "outcome"], registry=CollectorRegistry())
    memory = MemoryIntake(providers.ingest, providers.providers, counter)
    memory.authenticator = ProviderAuthenticator(providers, {"larchwood-hmac-1": [HMAC_SECRET]}, 300)  # type: ignore[attr-defined]
    return memory


@pytest.fixture
async def client(intake: MemoryIntake) -> AsyncIterator[Client]:
    api = IngestApi(intake, intake.authenticator)  # type: ignore[arg-type, attr-defined]
    app = web.Application()
    app.router.add_post("/v1/events", api.handle)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def post(client: Client, body: Any, key: str | None = KEY, **headers: str) -> tuple[int, dict[str, str], Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **headers}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    reply = await client.post("/v1/events", data=data, headers=sent)
    text = await reply.read()
    return reply.status, dict(reply.headers), json.loads(text) if text else None


async def test_a_good_report_is_produced_and_answered_with_its_reference(client: Client, intake: MemoryIntake) -> None:
    event = make_event()
    status, _, body = await post(client, event)
    assert status == 202 and body == {
        "status": "accepted",
        "reference": incident_ids(event["event_id"], "larchwood-care")[1],
        "event_id": event["event_id"],
    }
    assert [e.event_id for e in intake.produced] == [event["event_id"]] and intake.rejections == []
    assert (await post(client, event))[2]["reference"] == body["reference"]  # a retry: the same reference


async def test_a_signed_report_is_accepted_without_a_key(client: Client, intake: MemoryIntake) -> None:
    data = json.dumps(make_event()).encode()
    now = int(time.time())
    headers = {
        "X-Crucial-Key-Id": "larchwood-hmac-1",
        "X-Crucial-Timestamp": str(now),
        "X-Crucial-Signature": sign_request(HMAC_SECRET, now, data),
    }
    assert (await post(client, data, key=None, **headers))[0] == 202
    status, _, body = await post(client, data, key=None, **headers)
    assert status == 401 and body["reasons"] == ["(auth): replayed signature"]


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        (lambda e: e["child"].pop("given_names"), 422, "child.given_names: Field required"),
        (lambda e: e.update(type="vanished"), 422, "type: Input should be 'left_placement', 'returned' or 'update'"),
        (lambda e: e.pop("circumstances"), 422, "(root): circumstances are required when type is 'left_placement'"),
        (lambda e: e.update(surprise=1), 422, "surprise: Extra inputs are not permitted"),
        (
            lambda e: e["placement"].update(id="plc-brent-03"),
            403,
            "placement.id: placement 'plc-brent-03' is not one of provider 'larchwood-care'",
        ),
    ],
)
async def test_refusals_name_the_field_and_are_kept(
    client: Client, intake: MemoryIntake, change: Any, status: int, reason: str
) -> None:
    event = make_event()
    change(event)
    got, headers, body = await post(client, event)
    assert got == status and reason in body["reasons"]
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == status and {"field": reason.split(": ")[0], "message": reason.split(": ", 1)[1]} in body["errors"]
    raw, reasons, source = intake.rejections[-1]
    assert json.loads(raw) == event and reason in reasons and source == "api:larchwood-care"
    assert intake.produced == []


@pytest.mark.parametrize(
    ("data", "first"),
    [(b"{", "(root): not JSON"), (b"\xff\xfe", "(root): not UTF-8"), (b"[]", "(root): Input should be an object")],
)
async def test_malformed_bodies(client: Client, intake: MemoryIntake, data: bytes, first: str) -> None:
    status, _, body = await post(client, data)
    assert status in (400, 422) and body["reasons"][0].startswith(first)
    assert intake.rejections[-1][0] == data


async def test_the_body_limit_applies_with_or_without_a_length(client: Client, intake: MemoryIntake) -> None:
    big = json.dumps({**make_event(), "pad": "x" * 3000}).encode()
    status, _, body = await post(client, big)
    assert status == 413 and body["reasons"] == [f"(request): body of {len(big)} bytes exceeds the limit of 2048 bytes"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    reply = await client.post(
        "/v1/events", data=chunks(), headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    )
    assert reply.status == 413
    assert [r[1][0].startswith("(request): body of") for r in intake.rejections] == [True, True]
    assert all(r[0] == b"" for r in intake.rejections)  # an oversized body is never kept


async def test_credentials_are_required(client: Client, intake: MemoryIntake) -> None:
    status, headers, body = await post(client, make_event(), key=None)
    assert status == 401 and body["reasons"] == ["(auth): no credentials"] and "Bearer" in headers["WWW-Authenticate"]
    assert intake.rejections[-1][2] == "api:unauthenticated"
    assert (await post(client, make_event(), key="chk_wrong"))[2]["reasons"] == ["(auth): unknown API key"]


async def test_too_many_failed_attempts_from_one_address_are_throttled(client: Client, intake: MemoryIntake) -> None:
    statuses = [(await post(client, b"{}", key="chk_guess"))[0] for _ in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    assert len(intake.rejections) == 5  # throttled attempts are not recorded
    assert (await post(client, make_event()))[0] == 202  # a good key is not held back


async def test_the_rate_limit_is_per_key_with_retry_after(client: Client, intake: MemoryIntake) -> None:
    event = make_event()
    event["placement"] = {"id": "plc-brent-03", "name": "Brentside house", "local_authority": "Brent", "postcode": "NW10 9ZZ"}
    results = [await post(client, event, key=OTHER_KEY) for _ in range(3)]
    assert [r[0] for r in results] == [202, 202, 429]
    assert int(results[2][1]["Retry-After"]) >= 1
    assert (await post(client, make_event()))[0] == 202


async def test_a_wrong_content_type_is_415(client: Client) -> None:
    assert (await post(client, make_event(), **{"Content-Type": "text/plain"}))[0] == 415


async def test_no_acknowledgement_means_503_and_a_retry(client: Client, intake: MemoryIntake) -> None:
    intake.fail = True
    status, headers, _ = await post(client, make_event())
    assert status == 503 and headers["Retry-After"] == "5"
    status, _, _ = await post(client, make_event(), key=None)
    assert status == 503  # a refusal that cannot be kept is not answered as a refusal


# --- OpenAPI ----------------------------------------------------------------------------------------


def test_the_committed_openapi_is_the_generated_one() -> None:
    committed = (REPO / "docs" / "openapi.json").read_text()
    assert committed == openapi_text(), "regenerate: .venv/bin/python -m streams.web.openapi > docs/openapi.json"


def test_the_openapi_request_schema_is_the_contract() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    event_schema = PlacementEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas["PlacementEvent"] == {k: v for k, v in event_schema.items() if k != "$defs"}
    assert set(event_schema["$defs"]) <= set(schemas)
    operation = document["paths"]["/v1/events"]["post"]
    for status, response in operation["responses"].items():
        if status == "409":  # a problem document that also carries the reference the id was given
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Conflict"}
            assert schemas["Conflict"]["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
        elif status.startswith(("4", "5")):
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert operation["responses"]["429"]["headers"]["Retry-After"]
