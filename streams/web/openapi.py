"""The OpenAPI 3.1 description of the ingest API (reports and placements), generated from the
contract's pydantic models. `python -m streams.web.openapi` prints it; docs/openapi.json is that output
(a test checks).
"""

from __future__ import annotations

import json
from typing import Any

from alerts.model import PlacementEvent
from streams.web.api import EVENTS_PATH, OPENAPI_PATH, PROBLEM_JSON
from streams.web.placements import openapi_paths


def _problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 description, generated from the contract's pydantic models."""
    schemas = _schemas()
    placement_paths, placement_schemas = openapi_paths(_problem_response, RETRY_AFTER)
    schemas |= {name: schema for name, schema in placement_schemas.items() if name not in schemas}
    return {
        "openapi": "3.1.0",
        "info": _INFO,
        "paths": {
            EVENTS_PATH: _events_path(),
            **placement_paths,
            OPENAPI_PATH: {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}}},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "a provider API key"},
                "hmacKeyId": {"type": "apiKey", "in": "header", "name": "X-Crucial-Key-Id"},
                "hmacTimestamp": {"type": "apiKey", "in": "header", "name": "X-Crucial-Timestamp"},
                "hmacSignature": {"type": "apiKey", "in": "header", "name": "X-Crucial-Signature"},
            },
        },
    }


def _schemas() -> dict[str, Any]:
    """The event's schema and its parts, and the answers' schemas."""
    event = PlacementEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(sorted(event.pop("$defs", {}).items()))
    schemas["PlacementEvent"] = event
    schemas["Accepted"] = {
        "type": "object",
        "required": ["status", "reference", "event_id"],
        "properties": {
            "status": {"const": "accepted"},
            "reference": {
                "type": ["string", "null"],
                "pattern": "^CH-[A-Z2-7]{6}$",
                "description": "quote this; same for a retry. For an update or a return: the reference of the "
                "incident it changes; null when there is none, or when it is recorded as a claim (see note)",
            },
            "event_id": {"type": "string"},
            "note": {"type": "string", "description": "why an update or a return has no reference"},
        },
    }
    schemas["Conflict"] = {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {
                "type": "object",
                "required": ["reference"],
                "properties": {"reference": {"type": "string", "description": "the reference the event id was given"}},
            },
        ]
    }
    schemas["Problem"] = {
        "type": "object",
        "required": ["title", "status", "reasons", "errors"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "reasons": {"type": "array", "items": {"type": "string"}, "description": "'field.path: message' each"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    return schemas


def _events_path() -> dict[str, Any]:
    """POST /v1/events."""
    return {
        "post": {
            "operationId": "postPlacementEvent",
            "summary": "Report a placement event",
            "security": [{"apiKey": []}, {"hmacKeyId": [], "hmacTimestamp": [], "hmacSignature": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PlacementEvent"}}},
            },
            "responses": {
                "202": {
                    "description": "Stored (acknowledged by Kafka); the reference to quote",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
                },
                "400": _problem_response("Not UTF-8 JSON"),
                "401": _problem_response("Missing, unknown, stale or replayed credentials"),
                "403": _problem_response("The placement is neither the provider's nor in an area it is an authority for"),
                "413": _problem_response("Body larger than the limit"),
                "409": {
                    "description": "The event id was sent before with a different body; kept with its reason",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Conflict"}}},
                },
                "415": _problem_response("Content-Type is not application/json"),
                "422": _problem_response("The event breaks the contract; reasons name each field"),
                "429": _problem_response("Too many requests for this key (or failed attempts)", RETRY_AFTER),
                "503": _problem_response("Kafka did not acknowledge: retry", RETRY_AFTER),
            },
        }
    }


_INFO: dict[str, Any] = {
    "title": "Crucial Hour ingest API",
    "version": "1",
    "description": (
        "Placement providers report a child missing from care, returned, or news of them. "
        "Authenticate with `Authorization: Bearer <API key>`, or sign each attempt: "
        "`X-Crucial-Key-Id`, `X-Crucial-Timestamp` (Unix seconds, within the replay window) and "
        '`X-Crucial-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>." + body>`. '
        "A 202 means the report is stored; retry anything else but 4xx with the same event_id "
        "(a retry gets the same reference). Refused reports are kept with their reasons.\n\n"
        "Identity: references are the server's, one per (provider, event id). The same event id "
        "with a different body (leaving out reported_at) is refused 409 with the reference it was "
        "given; send a correction as an `update` with an event id of its own.\n\n"
        "Who may change an incident: `left_placement`, `update` and `returned` change a child's "
        "open incident only when they come from the provider whose placement opened it, or from "
        "a provider configured as an authority for the child (providers.yaml `authority_for`). "
        "Anything else is accepted (202, reference null, with a note) but only recorded on the "
        "incident's timeline as an unverified claim, and the incident's recipients are asked to "
        "confirm it (an SMS reply `CONFIRM <reference> <claim>`, or the situation board). The "
        "provider is the authenticated principal; records produced straight on Kafka name it in "
        "the `crucial-provider` header and are trusted per Kafka ACL."
    ),
}


def openapi_text() -> str:
    """docs/openapi.json's exact text."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(openapi_text(), end="")
