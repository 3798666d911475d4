"""Names, dates of birth and contact details reduced to comparable forms.

Pure and stateless (small caches only). Names are folded (unidecode: diacritics and scripts to ASCII,
lower case, punctuation dropped), split into tokens with Arabic particles handled, and given a
transliteration-tolerant phonetic key (jellyfish metaphone after a few cross-language respellings),
so that Mohammed / Muhammad / Mohamed, Nguyễn / Nguyen and Yusuf / Jusuf / Youssef meet. Token
similarity combines the phonetic key with Jaro-Winkler (rapidfuzz).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish
import phonenumbers
import pycountry
from rapidfuzz.distance import JaroWinkler, Levenshtein
from unidecode import unidecode

from alerts.model import DateOfBirth
from alerts.short_forms import joins_prefix, same_name

# Particles that are not part of a name's identity: "al-Bashir" is Bashir, "bin Laden" is Laden.
PARTICLES = frozenset({"al", "el", "ul", "bin", "ibn", "bint", "ben"})
# "Abdul Rahman", "Abdel-Rahman", "Abdulrahman", "Abdirahman" are one name: held as "abdrahman".
_ABD = re.compile(r"^abd(?:ul|el|al|il|ol|u|i)?(?=[a-z]{3,})")
_ABD_ALONE = frozenset({"abd", "abdul", "abdel", "abdal", "abdil", "abdol", "abdu"})
_JOIN_NEXT = _ABD_ALONE | {"abu", "abou", "abo"}
_JOIN_PREVIOUS = frozenset({"din", "deen", "eldin", "aldin", "uddin", "addin", "eddin", "ullah", "allah", "ulla"})
_NOT_NAME = re.compile(r"[^a-z0-9 ]+")
_JOINERS = re.compile(r"['`´’‘]")  # O'Brien -> obrien, not "o brien"


def visible(text: str) -> str:
    """Without format characters (Unicode category Cf: zero-width space and joiners, soft hyphen, bidi
    marks and isolates, word joiner, byte-order mark), which are invisible yet split or alter a word."""
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def fold(text: str) -> str:
    """'Nguyễn Thị-Hoa' -> 'nguyen thi hoa': ASCII, lower case, punctuation to spaces."""
    ascii_text = unidecode(_JOINERS.sub("", visible(text))).lower()
    ascii_text = _JOINERS.sub("", ascii_text)
    return " ".join(_NOT_NAME.sub(" ", ascii_text).split())


def name_tokens(text: str) -> tuple[str, ...]:
    """Folded tokens of one written name; single letters are initials; digits are dropped.

    Arabic compounds are held as one token however they are split: 'Abdul Rahman' / 'Abdelrahman' ->
    'abdrahman', 'Nasr El Din' / 'Nasreldin' -> 'nasreldin', 'Abu Bakr' -> 'abubakr', 'Sami Ullah' ->
    'samiullah'; the article in 'al-Bashir' is dropped.
    """
    raw = [t for t in fold(text).split() if not t.isdigit()]
    out: list[str] = []
    i = 0
    while i < len(raw):
        token = raw[i]
        if token in _JOIN_NEXT and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in PARTICLES and i + 2 < len(raw):
                nxt = raw[i + 2]
                i += 1
            out.append(("abd" if token in _ABD_ALONE else token) + nxt)
            i += 2
            continue
        if token in _JOIN_PREVIOUS and out:
            particle = raw[i - 1] if i >= 2 and raw[i - 1] in PARTICLES else ""
            out[-1] += particle + token
            i += 1
            continue
        if i + 1 < len(raw) and joins_prefix(token, raw[i + 1]):  # 'Oluwa Seun' is 'Oluwaseun'
            out.append(token + raw[i + 1])
            i += 2
            continue
        i += 1
        if token in PARTICLES and len(raw) > 1:
            continue  # dropped ('al-Bashir'), or taken up by a following 'din' ('nasr el din')
        out.append(_ABD.sub("abd", token))
    return tuple(out)


_RESPELL = (
    ("dh", "d"),
    ("th", "t"),
    ("kh", "k"),
    ("gh", "g"),
    ("ph", "f"),
    ("ou", "u"),
    ("oo", "u"),
    ("ee", "i"),
    ("q", "k"),
    ("xh", "j"),  # Albanian xh is English j: Xhesika / Jessica
    ("dj", "j"),  # Hodja / Hoxha, Djamal / Jamal
    ("w", "v"),  # Nawid / Navid, Jawad / Javad
)


_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=200_000)
def respelled(token: str) -> str:
    """One spelling for common transliteration differences: 'mohammed' -> 'mohamed', 'aly' -> 'ali'."""
    t = token
    for old, new in _RESPELL:
        t = t.replace(old, new)
    if t[:1] == "j":  # Jusuf / Yusuf, Johannes / Yohannes
        t = "y" + t[1:]
    elif t[:1] == "o":  # Omid / Umid, Osman / Usman, Omar / Umar
        t = "u" + t[1:]
    elif t[:1] == "e":  # Ebrahim / Ibrahim, Elira / Ilira
        t = "i" + t[1:]
    t = t[:1] + t[1:].replace("y", "i")  # y as a vowel: Skye / Sky, Hayle / Haile, Maryam / Mariam
    return _DOUBLED.sub(r"\1", t)


@lru_cache(maxsize=200_000)
def sound(token: str) -> str:
    """A phonetic key tolerant of transliteration: 'mohammed', 'muhammad', 'mohamed' -> 'MHMT'."""
    if len(token) <= 1:
        return token.upper()
    t = respelled(token)
    key = jellyfish.metaphone(t) or t.upper()
    if key[0] in "AEIOU":  # Osman / Usman, Elira / Ilira
        key = "A" + key[1:]
    return key


_VOWELS = frozenset("aeiou")
SHORT_FORM_SIMILARITY = 0.9  # paid as a near spelling: two thirds of the name's bits


def without_article(token: str) -> str | None:
    """'elsadig' -> 'sadig', 'alnour' -> 'nour': an Arabic article written onto the name; None when
    there is none (a vowel after it, as in 'alexandra' or 'elena', or too short to tell)."""
    if len(token) >= 6 and token[:2] in ("al", "el") and token[2] not in _VOWELS:
        return token[2:]
    return None


@lru_cache(maxsize=400_000)
def token_similarity(a: str, b: str) -> float:
    """0..1 for two full folded tokens, allowing for an article written onto either ('Elsadig' / 'Sadiq')."""
    best = _similarity(a, b)
    if best < 1.0:
        bare_a, bare_b = without_article(a), without_article(b)
        for x, y in ((bare_a, b), (a, bare_b), (bare_a, bare_b)):
            if x is not None and y is not None:
                best = max(best, 0.95 * _similarity(x, y))
    return best


def _similarity(a: str, b: str) -> float:
    """0..1 for two full folded tokens: 1 when equal; sound-alikes at least 0.85 (0.9 when short).

    Jaro-Winkler flatters short strings ('anh' / 'an' 0.91, 'tuan' / 'tran' 0.85), and a short word's
    phonetic key says little ('hung' and 'hoang' share 'HNK'), so words of four letters or fewer are
    compared by edit distance unless they sound alike and are close in spelling too.
    """
    if a == b:
        return 1.0
    ra, rb = respelled(a), respelled(b)
    if ra == rb:
        return 0.95
    if same_name(a, b):  # a diminutive or short form: Jess / Jessica, Seun / Oluwaseun
        return SHORT_FORM_SIMILARITY
    # as written, or respelled (Umar / Omer -> umar / umer)
    jw: float = max(JaroWinkler.normalized_similarity(a, b), JaroWinkler.normalized_similarity(ra, rb))
    key = sound(a)
    short = min(len(a), len(b)) <= 4
    if key == sound(b):
        if not short and len(key) >= 3:
            return max(jw, 0.92) if jw >= 0.8 else max(jw, 0.85)
        if jw >= 0.85:
            return max(jw, 0.9)
    if short:
        edit: float = max(Levenshtein.normalized_similarity(a, b), Levenshtein.normalized_similarity(ra, rb))
        return edit
    # Sounding different, only a near-identical spelling (a typo) counts: 'mahmoud' is not 'mohammed'.
    return jw if jw >= 0.88 else 0.9 * jw


# --- dates of birth -------------------------------------------------------------------------------

# A date of birth packed into one int (20 bits each for the earliest, latest and best-estimate day
# ordinals, one bit for "estimated"), so a million profiles do not hold a million tuples of dates.
_BITS = 20
_MASK = (1 << _BITS) - 1


def pack_dob(dob: DateOfBirth | None) -> int:
    if dob is None:
        return 0
    lo, hi = dob.bounds
    return (
        (lo.toordinal() << (2 * _BITS + 1)) | (hi.toordinal() << (_BITS + 1)) | (dob.value.toordinal() << 1) | int(dob.estimated)
    )


@dataclass(frozen=True, slots=True)
class Dob:
    """Day ordinals: `lo`..`hi` is the range the child's birthday may lie in; `value` the best estimate."""

    lo: int
    hi: int
    value: int
    estimated: bool

    @property
    def exact(self) -> bool:
        return not self.estimated and self.lo == self.hi == self.value

    @property
    def years(self) -> range:
        return range(date.fromordinal(self.lo).year, date.fromordinal(self.hi).year + 1)

    def describe(self) -> str:
        value = date.fromordinal(self.value)
        if self.lo != self.hi:
            lo, hi = date.fromordinal(self.lo), date.fromordinal(self.hi)
            return f"{value.isoformat()} (disputed: {lo.isoformat()} to {hi.isoformat()})"
        if self.estimated:
            return f"{value.year} (estimated)"
        return value.isoformat()


def unpack_dob(packed: int) -> Dob | None:
    if packed == 0:
        return None
    return Dob(
        lo=(packed >> (2 * _BITS + 1)) & _MASK,
        hi=(packed >> (_BITS + 1)) & _MASK,
        value=(packed >> 1) & _MASK,
        estimated=bool(packed & 1),
    )


def dob_of(dob: DateOfBirth | None) -> Dob | None:
    return unpack_dob(pack_dob(dob))


def dob_gap_days(a: Dob, b: Dob) -> int:
    """Days between two birth ranges; 0 when they overlap."""
    if a.hi < b.lo:
        return b.lo - a.hi
    if b.hi < a.lo:
        return a.lo - b.hi
    return 0


def transposed(a: int, b: int) -> bool:
    """The same date with day and month swapped (03/11 written for 11/03)."""
    x, y = date.fromordinal(a), date.fromordinal(b)
    return x.year == y.year and (x.day, x.month) == (y.month, y.day)


# --- sex, nationality -----------------------------------------------------------------------------

_NATIONALITY = {
    "uk": "gb",
    "gb": "gb",
    "british": "gb",
    "united kingdom": "gb",
    "english": "gb",
    "scottish": "gb",
    "welsh": "gb",
    "great britain": "gb",
}


# Demonyms that the suffix rules below do not derive from the ISO 3166 names.
_DEMONYMS = {
    "afghan": "af",
    "afghani": "af",
    "nigerian": "ng",
    "indian": "in",
    "dominican": "do",
    "nigerien": "ne",
    "bissau guinean": "gw",
    "guinea bissauan": "gw",
    "guinean": "gn",
    "equatorial guinean": "gq",
    "papua new guinean": "pg",
    "congolese": "cd",  # most often the Democratic Republic; Congo-Brazzaville is written out
    "ivorian": "ci",
    "dutch": "nl",
    "french": "fr",
    "irish": "ie",
    "swiss": "ch",
    "danish": "dk",
    "swedish": "se",
    "finnish": "fi",
    "polish": "pl",
    "spanish": "es",
    "portuguese": "pt",
    "turkish": "tr",
    "kurdish": "iq",
    "iraqi": "iq",
    "kuwaiti": "kw",
    "pakistani": "pk",
    "bangladeshi": "bd",
    "yemeni": "ye",
    "somali": "so",
    "saudi": "sa",
    "emirati": "ae",
    "israeli": "il",
    "thai": "th",
    "filipino": "ph",
    "malagasy": "mg",
    "burmese": "mm",
    "lao": "la",
    "czech": "cz",
    "slovak": "sk",
    "greek": "gr",
    "cypriot": "cy",
    "maltese": "mt",
    "welsh": "gb",
    "scottish": "gb",
    "english": "gb",
    "northern irish": "gb",
    "kosovan": "xk",
    "kosovar": "xk",
    "kosovo": "xk",
    "vietnam": "vn",
    "syria": "sy",
    "iran": "ir",
    "russia": "ru",
    "russian": "ru",
    "american": "us",
    "usa": "us",
    "uk": "gb",
    "great britain": "gb",
    "united kingdom": "gb",
}


def _country_names() -> dict[str, str]:
    """Folded country names, ISO codes and demonyms derived by suffix (Nigeria -> Nigerian, Sudan ->
    Sudanese, Austria -> Austrian) -> alpha-2. A demonym two countries would derive is left out."""
    names: dict[str, str] = {}
    derived: dict[str, set[str]] = {}
    for country in pycountry.countries:
        code = country.alpha_2.lower()
        written = {country.name, getattr(country, "common_name", country.name), getattr(country, "official_name", country.name)}
        for name in written:
            folded = fold(name)
            names.setdefault(folded, code)
            base = folded.split(",")[0]
            stem = base[:-1] if base.endswith(("a", "e", "o", "y")) else base
            for form in (
                base + "n",
                base + "an",
                base + "ese",
                base + "i",
                stem + "ian",
                stem + "an",
                stem + "ese",
                stem + "ish",
            ):
                derived.setdefault(form, set()).add(code)
        names.setdefault(country.alpha_2.lower(), code)
        names.setdefault(country.alpha_3.lower(), code)
    for form, codes in derived.items():
        if len(codes) == 1:
            names.setdefault(form, next(iter(codes)))
    return names


_COUNTRY_OF: dict[str, str] | None = None


@lru_cache(maxsize=4096)
def nationality_key(text: str | None) -> str:
    """ISO 3166 alpha-2 of a nationality or country however written: 'Vietnamese', 'Viet Nam' -> 'vn';
    'British', 'UK' -> 'gb'; 'Austrian' 'at' but 'Australian' 'au'; 'Nigerien' 'ne'. Unknown text is
    kept whole (folded), so two unknown spellings agree only when equal; '' when not given."""
    global _COUNTRY_OF
    if not text:
        return ""
    folded = fold(text)
    if folded in _NATIONALITY:
        return _NATIONALITY[folded]
    if folded in _DEMONYMS:
        return _DEMONYMS[folded]
    if _COUNTRY_OF is None:
        _COUNTRY_OF = _country_names()
    return _COUNTRY_OF.get(folded) or _COUNTRY_OF.get(folded.replace("the ", "")) or folded


# --- associates -----------------------------------------------------------------------------------

# Words in "accompanied by" and in associates' names that are not names.
NOT_NAMES = frozenset(
    """unknown adult adults male female man men woman women older old young boy boys girl girls friend friends
    uncle aunt auntie cousin brother sister mr mrs ms miss with and the a an in of called named known as car
    taxi driver person people group two three several some another other possibly maybe seen said by his her
    their from school who at on drove driving claims claimed claiming be to relative relatives family""".split()  # noqa: SIM905
)


def name_words(text: str) -> list[str]:
    """The words of a free text that could be part of a name: 'with a man called Van Long' -> ['van', 'long']."""
    return [t for t in name_tokens(text) if len(t) > 1 and t not in NOT_NAMES]


def associate_key(words: list[str]) -> str | None:
    """A person's name as a key that ignores order and spelling variants; None under two words (a lone
    first name links too many people)."""
    codes = sorted({sound(w) for w in words})
    return " ".join(codes) if len(codes) >= 2 else None


# --- contact details ------------------------------------------------------------------------------

_DIGITS = re.compile(r"\D+")


@lru_cache(maxsize=65_536)
def phone_key(number: str) -> str:
    """E.164 digits through `phonenumbers` (national numbers read as UK): '07700 900555', '+44 7700
    900555', '+44 (0)7700 900555', '0044 …' -> '447700900555'. Text it cannot parse: its digits."""
    try:
        parsed = phonenumbers.parse(number, "GB")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    digits = _DIGITS.sub("", number)
    if number.strip().startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return "44" + digits[1:]
    return digits


_PLATE_CHARS = re.compile(r"[^A-Z0-9]+")


def _plate_windows(text: str) -> list[str]:
    words = [w for w in _PLATE_CHARS.sub(" ", unidecode(text).upper()).split() if w]
    found: list[str] = []
    for i in range(len(words)):
        for j in range(i + 1, min(i + 3, len(words)) + 1):
            joined = "".join(words[i:j])
            if 4 <= len(joined) <= 8 and any(c.isdigit() for c in joined) and any(c.isalpha() for c in joined):
                found.append(joined)
    return found


def plate_keys(text: str) -> set[str]:
    """Every candidate registration mark in a report's free text ('black BMW LR19 XKP' -> {'LR19',
    'BMWLR19', 'LR19XKP'}): runs of 1-3 words that, joined, mix letters and digits in 4-8 characters.
    A link needs one of them to equal a profile's registration (`profile_plates`)."""
    return set(_plate_windows(text))


def profile_plates(text: str) -> set[str]:
    """The registration marks recorded on a profile: the longest plate-like runs ('LR19 XKP' -> {'LR19XKP'})."""
    windows = _plate_windows(text)
    return {w for w in windows if not any(w != other and w in other for other in windows)}
