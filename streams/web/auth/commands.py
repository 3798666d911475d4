"""Credentials for providers.yaml and board.yaml: `python -m streams.web.auth --help`.

new-api-key      a key for a provider and the sha256 line for providers.yaml
new-secret       a random key for CRUCIAL_SESSION_SECRET / CRUCIAL_LINK_SECRET / an HMAC key
hash-password    the password_hash (argon2id) line for a staff member (reads the password from stdin)
"""

from __future__ import annotations

import argparse
import getpass
import sys

from streams.web.auth.api_keys import hash_api_key, new_api_key
from streams.web.auth.passwords import hash_password
from streams.web.auth.tokens import new_secret

PROG = "python -m streams.web.auth"


def _read_password() -> str:
    """Asked twice without echo on a terminal (getpass); else the first line of stdin (a pipe, a script)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the two passwords differ: nothing hashed")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Make credentials for providers.yaml.")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("new-api-key", help="a provider API key and its sha256 for providers.yaml")
    sub.add_parser("new-secret", help="a random key for a secret file or environment variable")
    sub.add_parser("hash-password", help="password_hash (argon2id) for a staff member (asked without echo, or one line on stdin)")
    args = parser.parse_args(argv)
    if args.what == "new-api-key":
        key = new_api_key()
        print(f"give the provider:   {key}\nproviders.yaml:      sha256: {hash_api_key(key)}")
    elif args.what == "new-secret":
        print(new_secret())
    else:
        password = _read_password()
        if len(password) < 10:
            print("use at least 10 characters", file=sys.stderr)
            return 1
        print(f"password_hash: {hash_password(password)}")
    return 0
