"""Sign-in state every worker shares, on the compacted auth-state topic that every worker follows:

- revoked sessions: sign-out writes the session's id; every worker refuses it from then on (until its
  expiry, when the cookie is void anyway). A session also carries the fingerprint of the password
  hash it was opened under, so a changed password in config ends every session opened before.
- upgraded password hashes: a sign-in checked against an older scrypt hash stores its argon2id
  rehash here (the config file is the operator's, not rewritten), tied to the config hash it replaces.

Sign-out waits until this worker has read its own revocation back; other workers follow within a
fetch. Failed sign-in counts stay per worker (streams.web.signin): they only slow guessing down.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from aiokafka import ConsumerRecord

from streams.pipeline.register import Produce, ReadBack


def fingerprint(stored_hash: str) -> str:
    """A short, non-reversible tag of a password hash, carried in the session."""
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:12]


class AuthState(ReadBack):
    def __init__(self, produce: Produce, timeout_s: float) -> None:
        super().__init__()
        self._produce, self.timeout_s = produce, timeout_s
        self._revoked: dict[str, float] = {}  # session id -> its expiry
        self._upgraded: dict[str, tuple[str, str]] = {}  # realm/user -> (fingerprint of config hash, new hash)

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self.mark(record)
        if record.key is None or record.value is None:
            return
        kind, _, key = record.key.decode("utf-8", "replace").partition(":")
        data = json.loads(record.value)
        if kind == "revoked":
            self._revoked[key] = float(data["expires"])
            if len(self._revoked) > 100_000:
                now = time.time()
                self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        elif kind == "password":
            self._upgraded[key] = (str(data["replaces"]), str(data["hash"]))

    def state(self) -> dict[str, Any]:
        """Sessions revoked and passwords upgraded, as JSON values (a feed snapshot's part)."""
        return {"revoked": dict(self._revoked), "upgraded": {key: list(pair) for key, pair in self._upgraded.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        revoked = {str(sid): float(until) for sid, until in state["revoked"].items()}
        upgraded = {str(key): (str(replaces), str(new)) for key, (replaces, new) in state["upgraded"].items()}
        self._revoked, self._upgraded = revoked, upgraded

    def revoked(self, sid: str) -> bool:
        return sid in self._revoked

    async def revoke(self, sid: str, expires: float) -> None:
        """End a session everywhere; returns once this worker refuses it. RegisterUnavailable if Kafka
        did not confirm."""
        await self.write(self._produce, f"revoked:{sid}", json.dumps({"expires": expires}).encode(), self.timeout_s)

    def password_hash(self, realm: str, user: str, configured: str) -> str:
        """The hash to check a password against: the upgrade of `configured`, when there is one."""
        upgrade = self._upgraded.get(f"{realm}/{user}")
        return upgrade[1] if upgrade is not None and upgrade[0] == fingerprint(configured) else configured

    async def store_upgrade(self, realm: str, user: str, configured: str, new_hash: str) -> None:
        body = json.dumps({"replaces": fingerprint(configured), "hash": new_hash}).encode()
        await self.write(self._produce, f"password:{realm}/{user}", body, self.timeout_s)
