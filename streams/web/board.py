"""The situation board for duty staff, and acknowledgement by a signed, expiring link.

/board is behind a sign-in (board.yaml's staff; session cookie and CSRF from streams.web.auth). It is
drawn from this worker's incident directory — which follows every partition — and refreshes itself:
a small script swaps in /board/incidents (server-rendered, so escaped by Jinja) every few seconds
and counts each deadline down every second. /ack/<token> shows whom the link is for and asks for a
click (a POST): link scanners in mail clients fetch links, and a fetch must not acknowledge.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from faust.web import Request, Response, View

from alerts.directory import IncidentView
from alerts.model import Recipient
from streams.pipeline import metrics
from streams.pipeline.register import RegisterUnavailable
from streams.web.acks import AckOutcome, record_acknowledgement, record_confirmation
from streams.web.auth.keys import session_keys
from streams.web.auth.links import LinkError
from streams.web.auth.pages import PageAuth
from streams.web.auth.sessions import Session
from streams.web.form import see_other
from streams.web.sessions import fingerprint
from streams.web.signin import SignIn

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.board")


@dataclass(frozen=True)
class Row:
    """One recipient line on the board: alerted how, and what became of it."""

    name: str
    agency_id: str
    channel: str
    state: str
    acknowledged: bool


def rows(view: IncidentView) -> list[Row]:
    latest: dict[tuple[str, str], str] = {}
    for record in sorted(view.deliveries.values(), key=lambda r: r.at):
        if record.recipient_tag:
            latest[(record.recipient_tag, record.channel)] = record.state
    acked = {a.by.tag for a in view.incident.acknowledgements}
    return [
        Row(
            a.recipient.name,
            a.recipient.agency_id,
            a.channel,
            latest.get((a.recipient.tag, a.channel), "queued"),
            a.recipient.tag in acked,
        )
        for a in view.incident.alerted
    ]


def incident_json(view: IncidentView, now: datetime) -> dict[str, Any]:
    incident = view.incident
    return {
        "reference": incident.reference,
        "status": incident.status.value,
        "priority": incident.priority.value,
        "decision": incident.match.decision.value,
        "explanation": incident.match.explanation,
        "reasons": incident.reasons,
        "last_seen_at": incident.last_seen_at.isoformat(),
        "deadline": incident.deadline.isoformat(),
        "seconds_left": round((incident.deadline - now).total_seconds()),
        "escalation_step": incident.escalation_step,
        "escalation_stopped": incident.escalation_stopped,
        "recipients": [row.__dict__ for row in rows(view)],
        "acknowledgements": [
            {"name": a.by.name, "agency_id": a.by.agency_id, "via": a.via, "at": a.at.isoformat()}
            for a in incident.acknowledgements
        ],
        "timeline": [{"at": e.at.isoformat(), "what": e.what} for e in incident.timeline],
        "claims": [
            {"claim_id": c.claim_id, "type": c.type, "sender": c.sender, "status": c.status, "at": c.at.isoformat()}
            for c in incident.claims
        ],
    }


class BoardPages:
    def __init__(self, worker: WorkerPort) -> None:
        config = worker.config
        sessions = config.providers.sessions
        self.worker, self.board = worker, config.board
        self.state = worker.auth_state
        self.auth = PageAuth(
            session_keys(config),
            realm="board",
            cookie_path="/",
            ttl_s=sessions.minutes * 60,
            secure=sessions.cookie_secure,
        )
        self.signin = SignIn("board", sessions, worker.auth_state)
        self.zone = ZoneInfo(config.settings.timezone)
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(config.templates() / "web"), autoescape=True)
        self.templates.filters["local"] = self.local

    def local(self, moment: datetime, fmt: str = "%H:%M") -> str:
        return moment.astimezone(self.zone).strftime(fmt)

    def page(self, template: str, status: int = 200, script: bool = False, **context: Any) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        html = self.templates.get_template(template).render(
            nonce=nonce, errors=context.pop("errors", {}), signed_in=False, **context
        )
        scripts = f" script-src 'nonce-{nonce}'; connect-src 'self';" if script else ""
        policy = (
            f"default-src 'none'; style-src 'nonce-{nonce}';{scripts} form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        headers = {
            "Content-Security-Policy": policy,
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        }
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)

    def signed_in(self, request: web.Request) -> Session | None:
        session = self.auth.session(request, time.time())
        if session is None or session.scope != "board" or self.state.revoked(session.sid):
            return None
        member = self.board.staff.get(session.user)
        if member is None or session.password != fingerprint(member.stored_password):
            return None  # removed, or the password changed, since signing in
        return session

    def open_incidents(self) -> list[IncidentView]:
        return self.worker.directory.open()

    # --- pages ---------------------------------------------------------------------------------

    def login_form(self, request: web.Request, status: int = 200, error: str | None = None, username: str = "") -> web.Response:
        nonce, new = self.auth.login_nonce(request)
        response = self.page(
            "board_login.html.j2", status, csrf=self.auth.csrf(nonce), username=username, errors={"_form": error} if error else {}
        )
        if new:
            self.auth.set_login_nonce(response, nonce)
        return response

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        username = str(form.get("username", "")).strip().lower()
        if self.auth.refuse_post(request, form, request.cookies.get(self.auth.nonce_cookie)) is not None:
            return self.login_form(request, 403, "The sign-in page had expired. Sign in again.", username)
        member = self.board.staff.get(username)
        configured = member.stored_password if member else None
        verdict = await self.signin.check(username, request.remote or "?", configured, str(form.get("password", "")))
        if verdict.wait_s > 0:
            response = self.login_form(
                request, 429, f"Too many wrong attempts from here. Wait {int(verdict.wait_s) + 1} seconds.", username
            )
            response.headers["Retry-After"] = str(int(verdict.wait_s) + 1)
            return response
        if member is None or not verdict.ok:
            return self.login_form(request, 401, "The username or password is not right.", username)
        _, token = self.auth.begin(username, "board", time.time(), verdict.password)
        response = see_other("/board")
        self.auth.set_session_cookie(response, token)
        log.info("board sign-in by %s", username)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """Revoke the session on every worker (the auth-state topic), then back to the login page."""
        session = self.signed_in(request)
        form = await request.post()
        if session is None or self.auth.refuse_post(request, form, session.sid) is not None:
            return web.Response(status=403, text="forbidden")
        try:
            await self.state.revoke(session.sid, session.expires)
        except RegisterUnavailable:
            return web.Response(status=503, text="signing out did not complete: try again")
        response = see_other("/board/login")
        self.auth.end(response)
        return response

    def data_json(self, request: web.Request) -> web.Response:
        """The open incidents as JSON, for a signed-in user."""
        if self.signed_in(request) is None:
            return web.json_response({"error": "sign in at /board/login"}, status=401)
        now = self.worker.clock()
        body = {"now": now.isoformat(), "incidents": [incident_json(v, now) for v in self.open_incidents()]}
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    def board_page(self, session: Session) -> web.Response:
        return self.page(
            "board.html.j2",
            script=True,
            incidents=self.open_incidents(),
            rows=rows,
            now=self.worker.clock(),
            user=self.board.staff[session.user].name,
            refresh_ms=int(self.board.refresh_seconds * 1000),
            at_risk_seconds=int(self.worker.config.escalation.window_at_risk_minutes * 60),
            csrf=self.auth.csrf(session.sid),
        )

    def fragment(self, session: Session) -> web.Response:
        html = self.templates.get_template("board_incidents.html.j2").render(
            incidents=self.open_incidents(), rows=rows, now=self.worker.clock(), csrf=self.auth.csrf(session.sid)
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"})

    # --- acknowledgement links -------------------------------------------------------------------

    async def _link_target(self, token: str) -> tuple[IncidentView, Recipient] | str:
        try:
            reference, tag = self.worker.ack_links.read(token, self.worker.clock())
        except LinkError as exc:
            return "This link has expired." if exc.reason == "expired" else "This link is not valid."

        def alerted() -> tuple[IncidentView, Recipient] | None:
            view = self.worker.directory.by_reference(reference)
            recipient = next((a.recipient for a in view.incident.alerted if a.recipient.tag == tag), None) if view else None
            return (view, recipient) if view is not None and recipient is not None else None

        # The link was sent from a record this worker's directory may not have read yet: a miss waits for it.
        found = await self.worker.directory.look(alerted)
        return "This incident is closed or unknown." if found is None else found

    async def ack_page(self, token: str) -> web.Response:
        target = await self._link_target(token)
        if isinstance(target, str):
            metrics.ACKNOWLEDGEMENTS.labels("link", "rejected").inc()
            return self.page("ack.html.j2", 410, problem=target)
        view, recipient = target
        return self.page("ack.html.j2", incident=view.incident, recipient=recipient, token=token, done=False)

    async def acknowledge(self, token: str) -> web.Response:
        target = await self._link_target(token)
        if isinstance(target, str):
            metrics.ACKNOWLEDGEMENTS.labels("link", "rejected").inc()
            return self.page("ack.html.j2", 410, problem=target)
        view, recipient = target
        outcome = await record_acknowledgement(self.worker, view, recipient, "link")
        log.info("acknowledgement of %s by %s by link: %s", view.incident.reference, recipient.agency_id, outcome.value)
        if outcome is not AckOutcome.RECORDED:
            return self.page("ack.html.j2", 503 if outcome is AckOutcome.NOT_CONFIRMED else 410, problem=outcome.message)
        return self.page("ack.html.j2", incident=view.incident, recipient=recipient, token=token, done=True)

    async def confirm_claim(self, request: web.Request, reference: str, claim: str) -> web.Response:
        """The duty team confirms an unverified claim from the board."""
        session = self.signed_in(request)
        form = await request.post()
        if session is None or self.auth.refuse_post(request, form, session.sid) is not None:
            return web.Response(status=403, text="forbidden")
        view = await self.worker.directory.look(lambda: self.worker.directory.by_reference(reference))
        if view is None:
            return self.page("message.html.j2", 404, heading="Unknown incident", message="No such incident.")
        by = Recipient(agency_id="board", name=self.board.staff[session.user].name, address=f"board:{session.user}")
        outcome = await record_confirmation(self.worker, view, claim, by, "board")
        log.info("claim %s on %s confirmed from the board by %s: %s", claim, view.incident.reference, session.user, outcome.value)
        status = {AckOutcome.RECORDED: 200, AckOutcome.NOT_CONFIRMED: 503}.get(outcome, 409)
        return self.page(
            "message.html.j2",
            status,
            heading="Confirmed" if outcome is AckOutcome.RECORDED else "Not confirmed",
            message=f"{view.incident.reference}: {outcome.message}",
            next_href="/board",
            next_label="Back to the board",
        )


def register_board(worker: WorkerPort) -> None:
    app, pages = worker.app, BoardPages(worker)
    # Faust's web views hand over aiohttp's request and take aiohttp's response: the casts say so.
    aio = cast(Callable[[Request], web.Request], lambda request: request)
    out = cast(Callable[[web.StreamResponse], Response], lambda response: response)

    @app.page("/board")
    class BoardView(View):
        async def get(self, request: Request) -> Response:
            session = pages.signed_in(aio(request))
            return out(see_other("/board/login") if session is None else pages.board_page(session))

    @app.page("/board/incidents")
    class BoardIncidents(View):
        async def get(self, request: Request) -> Response:
            session = pages.signed_in(aio(request))
            return out(pages.fragment(session) if session else web.Response(status=401, text="sign in at /board/login"))

    @app.page("/board/data.json")
    class BoardData(View):
        async def get(self, request: Request) -> Response:
            return out(pages.data_json(aio(request)))

    @app.page("/board/login")
    class BoardLogin(View):
        async def get(self, request: Request) -> Response:
            return out(pages.login_form(aio(request)))

        async def post(self, request: Request) -> Response:
            return out(await pages.login(aio(request)))

    @app.page("/board/logout")
    class BoardLogout(View):
        async def post(self, request: Request) -> Response:
            return out(await pages.logout(aio(request)))

    @app.page("/board/claims/{reference}/{claim}")
    class BoardClaim(View):
        async def post(self, request: Request, reference: str, claim: str) -> Response:
            return out(await pages.confirm_claim(aio(request), reference, claim))

    @app.page("/ack/{token}")
    class Acknowledge(View):
        async def get(self, request: Request, token: str) -> Response:
            return out(await pages.ack_page(token))

        async def post(self, request: Request, token: str) -> Response:
            return out(await pages.acknowledge(token))
