"""Protocol peers for tests and benchmarks, all on 127.0.0.1: a Twilio-compatible HTTP server, an
SMTP server (aiosmtpd, STARTTLS + AUTH), and a launcher for Prism serving Twilio's OpenAPI contract.

Each runs in-process (pytest fixtures in tests.peers.fixtures) or as a subprocess
(`python -m tests.peers.twilio_server`, `python -m tests.peers.smtp_server`) beside a worker.
"""
