"""The one validator for recipient addresses, used by config, profiles and the channels alike, so an
address check-config accepts is one the SMTP channel sends to (and one it refuses fails check-config).

Email: a plain ASCII addr-spec (email-validator: RFC 5321/5322 syntax, no consecutive or leading
dots, a domain with a dot and no special-use names such as .local or .test). Phone: alerts.phone
(phonenumbers, E.164).
"""

from __future__ import annotations

import email_validator

MAX_EMAIL = 254  # RFC 5321's limit on a forward path


def email_address(text: str) -> tuple[str, str]:
    """(address, lower-case ASCII domain); ValueError saying what is wrong otherwise. The message never
    repeats the address (addresses of people stay out of logs)."""
    try:
        valid = email_validator.validate_email(
            text.strip(), check_deliverability=False, allow_smtputf8=False, allow_quoted_local=False
        )
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not an email address the SMTP channel can send to: {exc}") from None
    if len(valid.normalized) > MAX_EMAIL:
        raise ValueError(f"not an email address the SMTP channel can send to: longer than {MAX_EMAIL} characters")
    return valid.normalized, valid.ascii_domain.lower()


def valid_email(text: str) -> str:
    """The address as the channel will use it (domain lower-cased); ValueError otherwise."""
    return email_address(text)[0]
