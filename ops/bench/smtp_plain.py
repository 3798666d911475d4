"""The project's SMTP test server (tests.peers.smtp_server) offering AUTH PLAIN only, for Alertmanager.

Alertmanager 0.25 prefers AUTH LOGIN when a server offers it and expects the challenge to read
"Username:", while aiosmtpd's reads "User Name"; with LOGIN withdrawn it authenticates with PLAIN.
Everything else — STARTTLS, the certificates, the record — is the unchanged server.

    python -m ops.bench.smtp_plain <the arguments of tests.peers.smtp_server>
"""

from __future__ import annotations

from typing import Any

import aiosmtpd.controller

from tests.peers import smtp_server

_original_init = aiosmtpd.controller.Controller.__init__


def _plain_only(self: Any, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("auth_exclude_mechanism", ["LOGIN"])
    _original_init(self, *args, **kwargs)


if __name__ == "__main__":
    aiosmtpd.controller.Controller.__init__ = _plain_only  # type: ignore[method-assign]
    smtp_server.main()
