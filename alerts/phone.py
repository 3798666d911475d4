"""Phone numbers in one form (E.164), so one person is one recipient however the number was typed."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "GB"  # numbers written nationally (07700 900123) are read as UK numbers


def to_e164(number: str, region: str = DEFAULT_REGION) -> str:
    """'+44 7700 900123', '07700900123' -> '+447700900123'; ValueError when it cannot be a phone number.

    Uses "possible" rather than "valid": Ofcom's drama ranges (used in tests) are possible, not allocated.
    The message never repeats the number (numbers stay out of logs).
    """
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number: give it in international form, e.g. +447700900123") from None
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValueError("not a possible phone number (wrong length?): give it in international form, e.g. +447700900123")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalised(number: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 when the number can be read, else the number as given (for data already validated elsewhere)."""
    if number is None:
        return None
    try:
        return to_e164(number, region)
    except ValueError:
        return number
