"""SMS encoding arithmetic: GSM-7 versus UCS-2, and how many segments a text costs.

A text made only of GSM 03.38 characters is sent as GSM-7: 160 septets in one message, 153 per
segment once concatenated (the user-data header takes the rest); characters of the extension table
(``^ { } \\ [ ~ ] | €`` and form feed) are sent as an escape plus the character, two septets, and an
escape pair is never split across segments. One character outside GSM 03.38 — an emoji, a Vietnamese
ề, an Arabic letter — turns the whole text into UCS-2: 70 UTF-16 code units in one message, 67 per
segment concatenated, a surrogate pair never split.

`to_gsm7` replaces what it can by its nearest GSM-7 spelling (typographic quotes and dashes, Latin
letters with diacritics) and reports whether that was faithful, so a caller can prefer a faithful
GSM-7 spelling to a message three times as expensive, and never replace a whole script by "?".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
CONCATENATED = {"GSM-7": 153, "UCS-2": 67}

Encoding = Literal["GSM-7", "UCS-2"]

# Non-GSM characters with a conventional GSM-7 spelling (before falling back to stripping diacritics).
_SPELLINGS = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "`": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "«": '"',
    "»": '"',
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "…": "...",
    "•": "*",
    "·": ".",
    "×": "x",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Ħ": "H",
    "ħ": "h",
    "Ł": "L",
    "ł": "l",
    "ı": "i",
    "Œ": "OE",
    "œ": "oe",
    "Þ": "Th",
    "þ": "th",
    "ç": "c",
}


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _units(text: str, encoding: Encoding) -> list[int]:
    """What each character costs: septets for GSM-7, UTF-16 code units for UCS-2."""
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(units: list[int], per_segment: int) -> int:
    """Segments needed when no character may be split across two segments."""
    segments, used = 1, 0
    for cost in units:
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return segments


@dataclass(frozen=True)
class SmsCost:
    encoding: Encoding
    units: int
    segments: int

    def __str__(self) -> str:
        return f"{self.segments} segment(s), {self.encoding}, {self.units} units"


def sms_cost(text: str) -> SmsCost:
    """Encoding, length in septets (GSM-7) or UTF-16 code units (UCS-2), and the number of segments, of
    `text` as given (the renderer sends NFC; a decomposed text costs more, and that is what it costs)."""
    encoding: Encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    units = _units(text, encoding)
    total = sum(units)
    if total == 0:
        return SmsCost(encoding, 0, 1)
    if total <= SINGLE[encoding]:
        return SmsCost(encoding, total, 1)
    return SmsCost(encoding, total, _pack(units, CONCATENATED[encoding]))


def _spell(ch: str) -> str | None:
    if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
        return ch
    if ch in _SPELLINGS:
        return _SPELLINGS[ch]
    # Latin letters with diacritics: the base letter (ề -> e, Ş -> S); GSM-7's own accented letters kept above.
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if decomposed and decomposed != ch and all(c in GSM7_BASIC for c in decomposed):
        return decomposed
    return None


def to_gsm7(text: str) -> tuple[str, bool]:
    """The text spelled in GSM-7, and whether that spelling is faithful (no character had to become '?')."""
    out, faithful = [], True
    for ch in unicodedata.normalize("NFC", text):  # a decomposed letter is one letter, not base + "?"
        spelled = _spell(ch)
        if spelled is None:
            faithful = False
            spelled = "?"
        out.append(spelled)
    return "".join(out), faithful


def shorten(text: str, limit: int, ellipsis: str = "...") -> str:
    """At most `limit` characters, cut at a word boundary where one is near, marked with `ellipsis`."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return text[: max(limit, 0)]
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    if space >= max(1, len(cut) - 8):
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ellipsis
