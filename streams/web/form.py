"""The report form for care staff: sign in, choose the child, say when and where last seen, send.

Mobile first and usable without JavaScript (there is none): server-rendered pages from
templates/web/, a session cookie scoped to the staff member's provider, a CSRF token in every form, and
strict security headers. Routes, all under /report:

    GET  /report/login   POST /report/login   POST /report/logout
    GET  /report         POST /report  -> 303 /report/sent/<signed receipt> (the reference)

The child's pre-recorded details (Philomena part 1) come from the placement register (alerts/placements.py,
followed live from its topic); staff add only what is new (part 2). The form's hidden event id is fixed when the page is drawn, so pressing Send
twice — or again after an error — gives the same reference. Nothing typed is lost on an error, an
expired sign-in (the fields are carried through the login page) or an unacknowledged write.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from faust.web import Request, Response, View
from multidict import MultiDictProxy

from alerts.config import Provider, StaffMember
from alerts.errors import RejectedInput
from alerts.intake import parse_event
from alerts.model import Child, PlacementEvent
from alerts.placements import Placement, PlacementRegister
from streams.pipeline.register import RegisterUnavailable
from streams.web.api import Conflict, Intake, Unavailable
from streams.web.auth.keys import link_keys, session_keys
from streams.web.auth.links import LinkError, sign_link, verify_link
from streams.web.auth.pages import PageAuth
from streams.web.auth.sessions import Session
from streams.web.auth.tokens import Signer
from streams.web.sessions import fingerprint
from streams.web.signin import SignIn

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.form")

FIELDS = ("child", "last_seen_at", "last_seen_place", "clothing", "notes", "accompanied_by", "vehicles", "callback_phone")
NEAR_CHOICES = (
    ("port", "A port or ferry terminal"),
    ("airport", "An airport"),
    ("coach_station", "A coach station"),
    ("railway_station", "A railway station"),
)
# A contract field path (alerts.intake reasons) -> the form field that shows its message.
FIELD_OF_PATH = {
    "circumstances.last_seen_at": "last_seen_at",
    "circumstances.last_seen_place": "last_seen_place",
    "circumstances.clothing": "clothing",
    "circumstances.notes": "notes",
    "circumstances.accompanied_by": "accompanied_by",
    "circumstances.vehicles": "vehicles",
    "reporter.callback_phone": "callback_phone",
    "(root)": "last_seen_at",  # the root rule a report can break: last seen after reported
}


@dataclass(frozen=True)
class Staff:
    username: str
    provider_id: str
    provider: Provider
    member: StaffMember

    def placements(self, register: PlacementRegister) -> list[Placement]:
        """The provider's placements in the register now (those the member may report for)."""
        allowed = self.member.placements
        return [p for p in register.of_provider(self.provider_id) if allowed is None or p.placement_id in allowed]

    def child(self, register: PlacementRegister, reference: str) -> tuple[str, Placement, Child] | None:
        for placement in self.placements(register):
            for child in placement.children:
                if child.reference == reference:
                    return placement.placement_id, placement, child
        return None


@dataclass(frozen=True)
class LoginAttempt:
    """What the sign-in form is drawn again with: the username typed, and a report carried over."""

    username: str = ""
    carried: Mapping[str, list[str]] = field(default_factory=dict)


class ReportForm:
    """The pages' handling; views in `register_form_views` only route to it."""

    def __init__(self, worker: WorkerPort, intake: Intake) -> None:
        config = worker.config
        self.intake = intake
        self.bounds = config.settings.intake
        self.register = worker.placements  # read live: a child loaded into the register is on the next page drawn
        self.zone = ZoneInfo(config.settings.timezone)
        sessions, links = config.providers.sessions, config.providers.links
        self.state = worker.auth_state
        self.auth = PageAuth(
            session_keys(config),
            realm="report",
            cookie_path="/report",
            ttl_s=sessions.minutes * 60,
            secure=sessions.cookie_secure,
        )
        self.receipts = Signer(link_keys(config), "receipt")
        self.receipt_ttl = timedelta(minutes=links.valid_minutes)
        self.signin = SignIn("report", sessions, worker.auth_state)
        self.staff = {
            username: Staff(username, pid, provider, member)
            for pid, provider in config.providers.providers.items()
            for username, member in provider.staff.items()
        }
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(config.templates() / "web"),
            autoescape=True,
        )

    # --- rendering -----------------------------------------------------------------------------

    def page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        context.setdefault("errors", {})
        context.setdefault("signed_in", False)
        html = self.templates.get_template(template).render(nonce=nonce, **context)
        headers = {
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "Cache-Control": "no-store",
            # same-origin, not no-referrer: with no-referrer, browsers send "Origin: null" on form posts.
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        }
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)

    def _report_page(
        self, staff: Staff, session: Session, values: Mapping[str, Any], status: int = 200, **extra: Any
    ) -> web.Response:
        return self.page(
            "report.html.j2",
            status,
            provider_name=staff.provider.name,
            placements=staff.placements(self.register),
            values=values,
            near_choices=NEAR_CHOICES,
            csrf=self.auth.csrf(session.sid),
            signed_in=True,
            **extra,
        )

    def _blank(self, staff: Staff) -> dict[str, Any]:
        now = datetime.now(self.zone).replace(second=0, microsecond=0)
        return {
            **{name: "" for name in FIELDS},
            "event_id": f"form-{staff.provider_id}-{secrets.token_hex(8)}",
            "last_seen_at": now.strftime("%Y-%m-%dT%H:%M"),
            "callback_phone": staff.member.callback_phone,
            "near": [],
        }

    def _signed_in(self, request: web.Request) -> tuple[Session, Staff] | None:
        session = self.auth.session(request, time.time())
        if session is None or self.state.revoked(session.sid):
            return None
        staff = self.staff.get(session.user)
        if staff is None or session.scope != f"provider:{staff.provider_id}":
            return None  # removed from config since signing in
        if session.password != fingerprint(staff.member.stored_password):
            return None  # the password was changed since signing in
        return session, staff

    # --- login -------------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        if self._signed_in(request) is not None:
            return see_other("/report")
        return self._login_form(request, 200, LoginAttempt(), {})

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        carried = _carried(form)
        username = str(form.get("username", "")).strip().lower()
        password = str(form.get("password", ""))
        attempt = LoginAttempt(username, carried)
        if self.auth.refuse_post(request, form, request.cookies.get(self.auth.nonce_cookie)) is not None:
            return self._login_form(request, 403, attempt, {"_form": "The sign-in page had expired. Sign in again."})
        staff = self.staff.get(username)
        verdict = await self.signin.check(
            username, request.remote or "?", staff.member.stored_password if staff else None, password
        )
        if verdict.wait_s > 0:
            retry = str(int(verdict.wait_s) + 1)
            errors = {"username": f"Too many wrong attempts from here. Wait {retry} seconds, then try again."}
            return self._login_form(request, 429, attempt, errors, {"Retry-After": retry})
        if staff is None or not verdict.ok:
            log.info("form: sign-in refused")
            return self._login_form(request, 401, attempt, {"username": "The username or password is wrong"})
        log.info("form: %s of %s signed in", username, staff.provider_id)
        session, token = self.auth.begin(username, f"provider:{staff.provider_id}", time.time(), verdict.password)
        if carried:  # signed in again mid-report: show it filled in, to check and send
            values = {**self._blank(staff), **{k: v[0] for k, v in carried.items() if k != "near"}}
            values["near"] = carried.get("near", [])
            notice = "You are signed in again. Check the report, then press Send report."
            response = self._report_page(staff, session, values, notice=notice)
        else:
            response = see_other("/report")
        self.auth.set_session_cookie(response, token)
        return response

    def _login_form(
        self,
        request: web.Request,
        status: int,
        attempt: LoginAttempt,
        errors: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        nonce, new = self.auth.login_nonce(request)
        response = self.page(
            "login.html.j2",
            status,
            username=attempt.username,
            carried=attempt.carried,
            csrf=self.auth.csrf(nonce),
            errors=errors,
        )
        if new:
            self.auth.set_login_nonce(response, nonce)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    async def logout(self, request: web.Request) -> web.Response:
        form = await request.post()
        signed_in = self._signed_in(request)
        response = see_other("/report/login")
        if signed_in is not None and self.auth.refuse_post(request, form, signed_in[0].sid) is None:
            try:
                await self.state.revoke(signed_in[0].sid, signed_in[0].expires)
            except RegisterUnavailable:
                errors = {"_form": "Signing out did not complete: the system did not confirm it. Press Sign out again."}
                return self._report_page(signed_in[1], signed_in[0], self._blank(signed_in[1]), 503, errors=errors)
            self.auth.end(response)
        return response

    # --- the report ----------------------------------------------------------------------------

    async def report_page(self, request: web.Request) -> web.Response:
        signed_in = self._signed_in(request)
        if signed_in is None:
            return see_other("/report/login")
        session, staff = signed_in
        return self._report_page(staff, session, self._blank(staff))

    async def report(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        form = await request.post()
        signed_in = self._signed_in(request)
        if signed_in is None:  # expired: keep what was typed, through the login page
            carried = {name: [str(v) for v in form.getall(name, [])] for name in (*FIELDS, "event_id", "near")}
            return self._login_form(request, 401, LoginAttempt("", {k: v for k, v in carried.items() if v}), {})
        session, staff = signed_in
        values = self._values(form, staff)
        if self.auth.refuse_post(request, form, session.sid) is not None:
            self.intake.requests.labels("form", "forbidden").inc()
            errors = {"_form": "The page had expired, so the report was not sent. Check it and press Send report again."}
            return self._report_page(staff, session, values, 403, errors=errors)
        event, errors = self._event(values, staff)
        if event is None:
            self.intake.requests.labels("form", "invalid").inc()
            log.info("form %s: report not valid (%s)", staff.provider_id, ", ".join(sorted(errors)))
            return self._report_page(staff, session, values, 422, errors=errors)
        try:
            receipt = await self.intake.submit(event, event.model_dump_json().encode(), "form", started, staff.provider_id)
        except Conflict as conflict:
            self.intake.requests.labels("form", "conflict").inc()
            errors = {"_form": f"This report was already sent as {conflict.reference} with other details. Start a new report."}
            return self._report_page(staff, session, {**values, "event_id": self._blank(staff)["event_id"]}, 409, errors=errors)
        except Unavailable:
            self.intake.requests.labels("form", "unavailable").inc()
            errors = {
                "_form": "The report was not sent: the system did not confirm it. Press Send report again. "
                "If it keeps failing, phone the police and your manager."
            }
            return self._report_page(staff, session, values, 503, errors=errors)
        self.intake.requests.labels("form", "accepted").inc()
        reference = str(receipt["reference"])  # the form sends left_placement only: always a reference
        log.info("form %s: event %s accepted as %s", staff.provider_id, event.event_id, reference)
        token = sign_link(self.receipts, reference, datetime.now(UTC) + self.receipt_ttl)
        return see_other(f"/report/sent/{token}")

    async def sent(self, request: web.Request, token: str) -> web.Response:
        try:
            reference = verify_link(self.receipts, token, datetime.now(UTC))
        except LinkError:
            return self.page(
                "message.html.j2",
                404,
                heading="Confirmation not found",
                message="This confirmation link is wrong or has expired. The report itself is not affected.",
                next_href="/report",
                next_label="Go to the report form",
            )
        signed_in = self._signed_in(request)
        csrf = self.auth.csrf(signed_in[0].sid) if signed_in else ""
        return self.page("sent.html.j2", reference=reference, signed_in=signed_in is not None, csrf=csrf)

    def _values(self, form: MultiDictProxy[Any], staff: Staff) -> dict[str, Any]:
        values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in FIELDS}
        event_id = str(form.get("event_id", ""))
        ok_id = re.fullmatch(rf"form-{re.escape(staff.provider_id)}-[A-Za-z0-9]{{1,40}}", event_id) is not None
        values["event_id"] = event_id if ok_id else self._blank(staff)["event_id"]
        values["near"] = [str(v) for v in form.getall("near", []) if v in dict(NEAR_CHOICES)]
        return values

    def _event(self, values: Mapping[str, Any], staff: Staff) -> tuple[PlacementEvent | None, dict[str, str]]:
        errors: dict[str, str] = {}
        found = staff.child(self.register, values["child"])
        if found is None:
            errors["child"] = "Choose the child who is missing"
        now = datetime.now(UTC).replace(microsecond=0)
        last_seen: datetime | None = None
        try:
            last_seen = datetime.strptime(values["last_seen_at"], "%Y-%m-%dT%H:%M").replace(tzinfo=self.zone).astimezone(UTC)
        except (ValueError, OverflowError):  # year 1 in London is before UTC's calendar begins
            errors["last_seen_at"] = "Enter the date and time they were last seen"
        if last_seen is not None and last_seen > now + timedelta(minutes=5):
            errors["last_seen_at"] = "The time they were last seen must not be in the future"
        if not values["last_seen_place"]:
            errors["last_seen_place"] = "Enter where they were last seen"
        if not values["callback_phone"]:
            errors["callback_phone"] = "Enter a phone number you can be called back on"
        if found is None or last_seen is None or errors:
            return None, errors
        placement_id, placement, child = found
        event = {
            "event_id": values["event_id"],
            "type": "left_placement",
            "occurred_at": last_seen.isoformat(),
            "reported_at": now.isoformat(),
            "placement": {
                "id": placement_id,
                "name": placement.name,
                "local_authority": placement.local_authority,
                "postcode": placement.postcode,
            },
            "child": child.model_dump(mode="json"),
            "circumstances": {
                "last_seen_at": last_seen.isoformat(),
                "last_seen_place": values["last_seen_place"],
                "clothing": values["clothing"],
                "notes": values["notes"],
                "accompanied_by": _split(values["accompanied_by"]),
                "vehicles": _split(values["vehicles"]),
                "near": values["near"],
            },
            "reporter": {"name": staff.member.name, "role": staff.member.role, "callback_phone": values["callback_phone"]},
        }
        try:
            return parse_event(json.dumps(event), self.bounds, now), {}
        except RejectedInput as exc:
            for reason in exc.reasons:
                path, _, message = reason.partition(": ")
                field = next((f for p, f in FIELD_OF_PATH.items() if path == p or path.startswith(p + "[")), "_form")
                errors.setdefault(field, _friendly(field, message))
            return None, errors


def see_other(location: str) -> web.Response:
    """303 to `location` (returned, not raised: faust's sensors count raised responses as 500s)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _friendly(field: str, message: str) -> str:
    if field == "callback_phone":
        return "Enter a phone number like 07700 900123 or +44 7700 900123"
    if field == "last_seen_at":
        return "The time they were last seen must not be after now"
    if field == "_form":
        return "The report could not be made from these details; check them and try again"
    return f"Check this answer: {message.lower()}"


def _carried(form: MultiDictProxy[Any]) -> dict[str, list[str]]:
    carried: dict[str, list[str]] = {}
    for key in form:
        if key.startswith("carry.") and key[6:] in (*FIELDS, "event_id", "near"):
            carried.setdefault(key[6:], []).extend(str(v) for v in form.getall(key))
    return carried


def register_form_views(worker: WorkerPort, intake: Intake) -> ReportForm:
    form = ReportForm(worker, intake)
    app = worker.app

    @app.page("/report")
    class Report(View):
        """The report form."""

        async def get(self, request: Request) -> Response:
            return cast(Response, await form.report_page(cast(web.Request, request)))

        async def post(self, request: Request) -> Response:
            return cast(Response, await form.report(cast(web.Request, request)))

    @app.page("/report/login")
    class Login(View):
        """Sign in for care staff."""

        async def get(self, request: Request) -> Response:
            return cast(Response, await form.login_page(cast(web.Request, request)))

        async def post(self, request: Request) -> Response:
            return cast(Response, await form.login(cast(web.Request, request)))

    @app.page("/report/logout")
    class Logout(View):
        """Sign out."""

        async def post(self, request: Request) -> Response:
            return cast(Response, await form.logout(cast(web.Request, request)))

    @app.page("/report/sent/{token}")
    class Sent(View):
        """The confirmation with the reference."""

        async def get(self, request: Request, token: str) -> Response:
            return cast(Response, await form.sent(cast(web.Request, request), token))

    return form
