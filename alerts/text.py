"""Text helpers the renderer and the channels' renderers share."""

from __future__ import annotations

import unicodedata


def one_line(value: object) -> str:
    # Headers and SMS lines must never carry a line break from user input; NFC so that a decomposed
    # "ề" (e + two combining marks) is one character, as GSM-7 spelling and segment counts expect.
    return unicodedata.normalize("NFC", " ".join(str(value).split()))
