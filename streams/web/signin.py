"""Sign-in for the report form and the situation board, shaped so an attacker cannot turn it on staff.

- Failures slow down one (username, client address) pair only: after `sessions.logins_per_minute`
  failures each further attempt from that pair waits twice as long as the last (up to 15 minutes). A
  care worker signing in from their own phone is never held up by wrong passwords sent from elsewhere.
- Past `sessions.user_failures_alert_per_hour` failures for one known username, from all addresses,
  the ops team is alerted (crucial_signin_ceiling_total; rule CrucialSignInGuessing) — the person is
  not locked out.
- Passwords are checked off the event loop (argon2id costs ~50 ms of CPU and 64 MiB); an unknown
  username is checked against a dummy hash, so the time taken does not reveal which names exist.
- A good password under an older hash (scrypt) is rehashed to argon2id and the rehash kept on the
  shared auth-state topic (streams.web.sessions), so every worker uses it from then on.

The client address is `request.remote` after streams.web.views's trusted-proxy middleware has applied
X-Forwarded-For from the configured proxies only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from alerts.config import SessionSettings
from streams.pipeline import metrics
from streams.pipeline.register import RegisterUnavailable
from streams.web.auth.passwords import DUMMY_PASSWORD_HASH, hash_password, needs_rehash, verify_password
from streams.web.sessions import AuthState, fingerprint

log = logging.getLogger("crucial.signin")
LONGEST_WAIT_S = 15 * 60.0
QUIET_RESET_S = 60 * 60.0
MAX_PAIRS = 20_000


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0


@dataclass
class Verdict:
    """`ok` when the password was right; `wait_s` > 0 when the attempt was not even checked."""

    ok: bool
    wait_s: float = 0.0
    password: str = ""  # fingerprint of the configured hash, for the session (see streams.web.sessions)


@dataclass
class SignIn:
    realm: str
    settings: SessionSettings
    state: AuthState
    _pairs: dict[tuple[str, str], _Failures] = field(default_factory=dict)
    _per_user: dict[str, deque[float]] = field(default_factory=dict)

    def wait_s(self, username: str, client: str, now: float) -> float:
        """How long this (username, client) must wait before its next attempt is checked (0: now)."""
        failures = self._pairs.get((username, client))
        if failures is None or failures.count < self.settings.logins_per_minute:
            return 0.0
        if now - failures.last_at > QUIET_RESET_S:
            return 0.0
        excess = failures.count - self.settings.logins_per_minute
        pause = min(LONGEST_WAIT_S, 2.0 ** min(excess, 20))
        return max(0.0, failures.last_at + pause - now)

    async def check(self, username: str, client: str, configured: str | None, password: str) -> Verdict:
        """Check `password` for `username` (configured hash None: unknown user); count the outcome."""
        now = time.time()
        wait = self.wait_s(username, client, now)
        if wait > 0:
            metrics.SIGNIN_FAILURES.labels(self.realm, "throttled").inc()
            return Verdict(False, wait)
        stored = self.state.password_hash(self.realm, username, configured) if configured else DUMMY_PASSWORD_HASH
        good = await asyncio.get_running_loop().run_in_executor(None, verify_password, stored, password)
        if configured is None or not good:
            self._failed(username, client, now, known=configured is not None)
            return Verdict(False)
        self._pairs.pop((username, client), None)
        if needs_rehash(stored):
            await self._upgrade(username, configured, password)
        return Verdict(True, password=fingerprint(configured))

    def _failed(self, username: str, client: str, now: float, *, known: bool) -> None:
        metrics.SIGNIN_FAILURES.labels(self.realm, "wrong").inc()
        if len(self._pairs) >= MAX_PAIRS:
            oldest = sorted(self._pairs.items(), key=lambda item: item[1].last_at)[: MAX_PAIRS // 2]
            for key, _ in oldest:
                del self._pairs[key]
        failures = self._pairs.setdefault((username, client), _Failures())
        if now - failures.last_at > QUIET_RESET_S:
            failures.count = 0
        failures.count, failures.last_at = failures.count + 1, now
        if known:
            self._count_for_user(username, now)

    def _count_for_user(self, username: str, now: float) -> None:
        ceiling = self.settings.user_failures_alert_per_hour
        recent = self._per_user.setdefault(username, deque(maxlen=ceiling + 1))
        while recent and now - recent[0] > 3600:
            recent.popleft()
        recent.append(now)
        if len(recent) == ceiling + 1 and now - recent[0] <= 3600:
            metrics.SIGNIN_CEILING.labels(self.realm).inc()
            # A configured username, never what was typed for an unknown one (log forging).
            log.warning("sign-in ceiling: %d failed %s sign-ins for %s within an hour", ceiling + 1, self.realm, username)
            recent.clear()

    async def _upgrade(self, username: str, configured: str, password: str) -> None:
        new_hash = await asyncio.get_running_loop().run_in_executor(None, hash_password, password)
        try:
            await self.state.store_upgrade(self.realm, username, configured, new_hash)
        except RegisterUnavailable:
            log.warning("%s sign-in: the argon2id rehash was not stored (Kafka did not confirm); next time", self.realm)
            return
        log.info("%s sign-in: %s's password rehashed to argon2id", self.realm, username)
