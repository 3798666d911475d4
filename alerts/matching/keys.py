"""Name forms and blocking keys: what a profile is filed under and what a report looks up.

Hashes of short strings (an int key costs less memory than the string); for names a collision only
adds a candidate, which is then scored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import combinations, pairwise

from xxhash import xxh3_64_intdigest

from alerts.identity import (
    Dob,
    associate_key,
    name_tokens,
    name_words,
    phone_key,
    profile_plates,
    respelled,
    sound,
    without_article,
)
from alerts.model import (
    Child,
    RiskProfile,
)
from alerts.short_forms import short_form_keys

_YEAR_FACTOR = {0: 1.0, 1: 0.75, 2: 0.5}  # a blocking key's year of birth this far from the report's
MAX_ASSOCIATE_LINKS = 50  # an associate's name on more profiles than this is too common to link on
MAX_RANGE_YEARS = 8  # a disputed range wider than this blocks like an unknown date of birth
OLDEST_YEARS = 27  # with no date of birth in the report, look at every plausible year of birth
_PHONE_IN_TEXT = re.compile(r"(?:\+|\b)[0-9][0-9 ()-]{8,18}[0-9]\b")


def key_hash(text: str) -> int:
    """A stored key's hash, the same in every process (Python's own str hash is salted per process),
    so an index snapshot written by one worker holds the keys another computes (alerts.matching.snapshot)."""
    return xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


# --- name forms -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Form:
    """One way the child's name is written: the name, an alias, or an alias with the family name."""

    kind: str
    written: str
    tokens: tuple[str, ...]


def name_forms(given_names: str, family_name: str | None, aliases: list[str]) -> list[Form]:
    """Forms in a fixed order (the index stores only their tokens and rebuilds the rest from this)."""
    main = f"{given_names} {family_name}" if family_name else given_names
    candidates = [Form("name", main, name_tokens(main))]
    candidates += [Form("alias", alias, name_tokens(alias)) for alias in aliases]
    if family_name:
        family = name_tokens(family_name)
        for alias in aliases:
            tokens = name_tokens(alias)
            if len(tokens) == 1 and tokens[0] not in family:
                candidates.append(Form("alias", f"{alias} {family_name}", tokens + family))
    forms: list[Form] = []
    seen: set[tuple[str, ...]] = set()
    for form in candidates:
        if form.tokens and form.tokens not in seen:
            seen.add(form.tokens)
            forms.append(form)
    return forms


def _forms_of(person: Child | RiskProfile) -> list[Form]:
    return name_forms(person.given_names, person.family_name, person.aliases)


# --- blocking keys --------------------------------------------------------------------------------
# Hashes of short strings: an int key costs less memory than the string. For names a collision only
# adds a candidate, which is then scored; a shared identifier is checked against the profile itself; a
# registration, phone number or associate is trusted to its 64-bit hash (a collision among a few
# million keys has odds of about one in a million million).


@lru_cache(maxsize=100_000)
def _token_codes(token: str) -> frozenset[str]:
    """Blocking codes of one full token: its sound, that of the name without an article on it, and
    those of the full names it may be a short form of (Jess: Jessica; Seun: Oluwaseun; and Oluwaseun
    itself files under Seun), so a short form and its full name share a key."""
    codes = {sound(token)}
    bare = without_article(token)
    if bare:
        codes.add(sound(bare))
    codes.update(sound(name) for name in short_form_keys(token))
    return frozenset(codes)


def _codes(forms: list[tuple[str, ...]]) -> list[str]:
    return sorted({code for tokens in forms for t in tokens if len(t) > 1 for code in _token_codes(t)})


def _frequency_key(token: str) -> str:
    """What a name's frequency is counted by: its sound, unless that is too short to tell names apart
    ('thi' and 'do' both sound 'T'), then its respelling."""
    key = sound(token)
    return key if len(key) >= 3 else respelled(token)


def _pair_frequency_key(a: str, b: str) -> str:
    """Two adjacent names counted together ('thanh' + 'tung'): a multi-word given name is one name."""
    return f"{_frequency_key(a)}+{_frequency_key(b)}"


def _frequency_keys(forms: list[tuple[str, ...]]) -> set[str]:
    """Each name's frequency key, and those of adjacent names in the main form, counted together."""
    keys = {_frequency_key(t) for tokens in forms for t in tokens if len(t) > 1}
    if forms:
        main = forms[0]
        keys.update(_pair_frequency_key(a, b) for a, b in pairwise(main) if len(a) > 1 and len(b) > 1)
    return keys


def frequency_group(nationality: str, sex: str = "") -> str:
    """Where a name's share is counted: among the profiles of its nationality ("*": of none), and of
    its sex when that is known — given names are mostly of one sex, so a name's share among all
    profiles would pay the agreement on sex a second time (the sex is paid its own point)."""
    group = nationality or "*"
    return f"{group}:{sex}" if sex in ("f", "m") else group


def _frequency_groups(nationality: str, sex: str) -> set[str]:
    """Every group a profile's names are counted in: all profiles, its nationality, and with its sex."""
    return {"*", frequency_group(nationality), frequency_group(nationality, sex), frequency_group("", sex)}


def _sexes(sex: str, probing: bool) -> tuple[str, ...]:
    """Pair keys carry the sex; a profile of unknown sex is filed under 'u', which every probe reads."""
    known = sex if sex in ("f", "m") else "u"
    if not probing:
        return (known,)
    return (known, "u") if known != "u" else ("f", "m", "u")


# Kinds of blocking key, with their weight in candidate ranking.
PAIR, INITIAL, SINGLE = 3.0, 2.0, 1.0


def _identity_keys(forms: list[tuple[str, ...]], years: list[int], sexes: tuple[str, ...]) -> dict[int, tuple[float, int, int]]:
    """Blocking key -> (weight, year of birth, what): pairs of name sounds with the sex (PAIR), a sound
    with another token's initial (INITIAL), a single sound (SINGLE); each with a year of birth (0:
    unknown). `what` is the key without its year: a candidate counts each at its best year only.

    A profile files every token under every other token's initial; a report looks that way only for
    the initials of every other token it gives."""
    codes = _codes(forms)
    # Pairs of two different names within each way the name is written (not across an alias and the
    # main name, nor a name with its own short form).
    pairs = sorted(
        {
            (a, b) if a < b else (b, a)
            for tokens in forms
            for one, other in combinations([_token_codes(t) for t in tokens if len(t) > 1], 2)
            for a in one
            for b in other
            if a != b
        }
    )
    # A report reads initials of its own full tokens too: a typo rarely changes the first letter, and a
    # name sound with another name's initial is far more selective than the sound alone.
    heads = [
        (sound(t), {u[0] for u in tokens if u is not t}) for tokens in forms for t in tokens if len(t) > 1 and len(tokens) > 1
    ]
    # `what` hashed as the keys are (Python's str hash is salted per process): the candidate ranking reads
    # groups of one size in this order, so every worker must read them alike.
    single_what = {code: key_hash(f"s\x1f{code}") for code in codes}
    pair_what = {(a, b): key_hash(f"p\x1f{a}\x1f{b}") for a, b in pairs}
    head_what = {(head, i): key_hash(f"i\x1f{head}\x1f{i}") for head, initials in heads for i in initials}
    keys: dict[int, tuple[float, int, int]] = {}
    for year in years:
        y = str(year)
        for code in codes:
            keys[key_hash(f"s\x1f{code}\x1f{y}")] = (SINGLE, year, single_what[code])
        for a, b in pairs:
            for sex in sexes:
                keys[key_hash(f"p\x1f{a}\x1f{b}\x1f{y}\x1f{sex}")] = (PAIR, year, pair_what[(a, b)])
        for head, initials in heads:
            for initial in initials:
                keys.setdefault(key_hash(f"i\x1f{head}\x1f{initial}\x1f{y}"), (INITIAL, year, head_what[(head, initial)]))
    return keys


def joined_forms(given_names: str, family_name: str | None) -> list[tuple[str, ...]]:
    """For blocking only: the name with two adjacent given names written as one ('Thanh Tùng' as
    'thanhtung'), so either way of writing a multi-word given name meets the other."""
    given = name_tokens(given_names)
    family = name_tokens(family_name or "")
    return [
        (*given[:i], given[i] + given[i + 1], *given[i + 2 :], *family)
        for i in range(len(given) - 1)
        if len(given[i]) > 1 and len(given[i + 1]) > 1
    ]


def _dob_key(value: int) -> int:
    return key_hash(f"d\x1f{value}")


def _profile_years(dob: Dob | None) -> list[int]:
    if dob is None or len(dob.years) > MAX_RANGE_YEARS:
        return [0]
    return list(dob.years)


def _probe_years(dob: Dob | None, today: date) -> list[int]:
    if dob is None:
        return [0, *range(today.year - OLDEST_YEARS, today.year + 1)]
    margin = 3 if dob.estimated else 2
    years = dob.years
    return [0, *range(years.start - margin, years.stop + margin)]


def _identifier_key(scheme: str, value: str) -> int:
    return key_hash(f"x\x1f{scheme}\x1f{value}")


def _associate_keys(names: list[str]) -> set[int]:
    keys = {associate_key(name_words(name)) for name in names}
    return {key_hash(f"a\x1f{key}") for key in keys if key is not None}


def _link_keys(profile: RiskProfile) -> set[int]:
    keys = {key_hash(f"v\x1f{plate}") for vehicle in profile.vehicles for plate in profile_plates(vehicle)}
    keys |= {key_hash(f"t\x1f{phone_key(phone)}") for phone in profile.phone_numbers}
    keys |= _associate_keys([associate.name for associate in profile.associates])
    return keys
