"""Match a placement event against flagged risk profiles.

Three paths, each adding points of evidence and a line of explanation:
(a) shared identifiers (a Home Office or NRM reference, a local-authority reference);
(b) identity — names and aliases compared token by token, word order ignored, transliteration- and
    sound-aware (alerts.identity); date of birth within a tolerance that widens for estimated dates and
    disputed ranges; sex and nationality as evidence;
(c) circumstantial links — a vehicle registration, phone number or associate's name in the report that
    is recorded against any profile. A link is reported (`MatchResult.links`) whether or not the child
    has a profile of their own; grading uses it to raise the risk.

Points become a score (0..1, a logistic curve) and the score a decision by the thresholds in
risk.yaml. A match is only possible — a person confirms — when another profile is almost as close,
when the name is a first name and an initial, when only given names agree and the reported family
name is not on the profile, or when profiles blocked as well as the best were left
unscored (a very common name in a very large index) — unless the best alone carries the report's Home
Office / NRM reference (matching.unique_schemes): every profile holding it is scored, so no unscored
namesake can be the child.

The index is held in memory by every worker, rebuilt from the compacted profiles topic at start and
kept current by `upsert` / `remove`. Lookups go through blocking keys (phonetic keys of name tokens,
alone and in pairs, with the year of birth; identifiers; registrations; phone numbers; associates),
never a scan of every profile. Profiles are held compactly — the validated JSON, compressed, plus a
slim record for scoring — so a million fit in well under the memory of a million pydantic objects.
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from heapq import nlargest
from itertools import combinations, pairwise
from typing import Any

from alerts.config import Links, Matching
from alerts.identity import (
    Dob,
    associate_key,
    fold,
    name_tokens,
    name_words,
    nationality_key,
    pack_dob,
    phone_key,
    plate_keys,
    profile_plates,
    respelled,
    sound,
    token_similarity,
    unpack_dob,
    without_article,
)
from alerts.matching import dates, rules
from alerts.matching.dates import dob_evidence
from alerts.model import (
    Child,
    Decision,
    MatchResult,
    PlacementEvent,
    Priority,
    ProfileLink,
    RiskProfile,
)
from alerts.short_forms import short_form_keys

_YEAR_FACTOR = {0: 1.0, 1: 0.75, 2: 0.5}  # a blocking key's year of birth this far from the report's
MAX_ASSOCIATE_LINKS = 50  # an associate's name on more profiles than this is too common to link on
MAX_RANGE_YEARS = 8  # a disputed range wider than this blocks like an unknown date of birth
OLDEST_YEARS = 27  # with no date of birth in the report, look at every plausible year of birth
_PHONE_IN_TEXT = re.compile(r"(?:\+|\b)[0-9][0-9 ()-]{8,18}[0-9]\b")


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


def _frequency_keys(forms: list[tuple[str, ...]]) -> set[str]:
    return {_frequency_key(t) for tokens in forms for t in tokens if len(t) > 1}


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
    # A report reads initials of its own full tokens too: a typo rarely changes the first letter, and a
    # name sound with another name's initial is far more selective than the sound alone.
    heads = [
        (sound(t), {u[0] for u in tokens if u is not t}) for tokens in forms for t in tokens if len(t) > 1 and len(tokens) > 1
    ]
    keys: dict[int, tuple[float, int, int]] = {}
    for year in years:
        y = str(year)
        for code in codes:
            keys[hash(f"s\x1f{code}\x1f{y}")] = (SINGLE, year, hash(("s", code)))
        for a, b in combinations(codes, 2):
            for sex in sexes:
                keys[hash(f"p\x1f{a}\x1f{b}\x1f{y}\x1f{sex}")] = (PAIR, year, hash(("p", a, b)))
        for head, initials in heads:
            for initial in initials:
                keys.setdefault(hash(f"i\x1f{head}\x1f{initial}\x1f{y}"), (INITIAL, year, hash(("i", head, initial))))
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
    return hash(f"d\x1f{value}")


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
    return hash(f"x\x1f{scheme}\x1f{value}")


def _associate_keys(names: list[str]) -> set[int]:
    keys = {associate_key(name_words(name)) for name in names}
    return {hash(f"a\x1f{key}") for key in keys if key is not None}


def _link_keys(profile: RiskProfile) -> set[int]:
    keys = {hash(f"v\x1f{plate}") for vehicle in profile.vehicles for plate in profile_plates(vehicle)}
    keys |= {hash(f"t\x1f{phone_key(phone)}") for phone in profile.phone_numbers}
    keys |= _associate_keys([associate.name for associate in profile.associates])
    return keys


# --- the compact record ---------------------------------------------------------------------------

_INT = struct.Struct("=i")
# A preset dictionary for zlib: what every profile's JSON repeats, so each compresses to far less than
# on its own. Only ever used in memory (rebuilt at start), so it may change between versions.
_ZDICT = (
    b'"scheme":"home_office","value":"HO-"scheme":"nrm","value":"NRM-"scheme":"la_reference","value":"'
    b'"relationship":"claims to be uncle"relationship":"unknown"},{"name":"'
    b'"places_of_concern":["'
    b'"responsible_local_authority":"","police_force":"Metropolitan Police Service","social_worker":{"name":"'
    b'"email":"@gov.uk","phone":"+447700900'
    b'"vehicles":["","phone_numbers":["+447700900","+44'
    b'"indicators":["debt bondage","cannabis cultivation","county lines","sexual exploitation","controlled phone"'
    b'"risk_level":"high","risk_level":"medium","risk_level":"low","associates":[{"name":"'
    b'"sex":"female","sex":"male","nationality":"Vietnamese","nationality":"Albanian","nationality":"Eritrean"'
    b'"nationality":"Sudanese","nationality":"Afghan","nationality":"Nigerian","nationality":"Romanian","nationality":"British"'
    b'"date_of_birth":{"value":"20","estimated":true,"earliest":"20","latest":"20'
    b'"aliases":["","family_name":"","given_names":"Mohammed Nguyen "identifiers":[{"scheme":"la_reference","value":"'
    b'{"profile_id":"'
)


def _pack(profile: RiskProfile) -> bytes:
    """The validated profile as compressed JSON: a fraction of a pydantic object's memory."""
    packer = zlib.compressobj(6, zdict=_ZDICT)
    return packer.compress(profile.model_dump_json(exclude_defaults=True).encode()) + packer.flush()


def _inflate(blob: bytes) -> bytes:
    unpacker = zlib.decompressobj(zdict=_ZDICT)
    return unpacker.decompress(blob) + unpacker.flush()


def _unpack(blob: bytes) -> RiskProfile:
    return RiskProfile.model_validate_json(_inflate(blob))


_SEX = {"female": "f", "male": "m", "other": "o", "unknown": "u"}


@dataclass(frozen=True, slots=True)
class _Scoring:
    """What scoring needs of one profile, decoded from the slim record."""

    forms: list[tuple[str, ...]]
    dob: Dob | None
    sex: str
    nationality: str


_RISK = {Priority.HIGH: "h", Priority.MEDIUM: "m", Priority.LOW: "l"}
_RISK_OF = {v: k for k, v in _RISK.items()}
Record = tuple[str, int, str]  # (name forms "tok tok|tok", packed date of birth, sex + risk + nationality)


def _record(profile: RiskProfile) -> Record:
    forms = "|".join(" ".join(form.tokens) for form in _forms_of(profile))
    rest = _SEX[profile.sex] + _RISK[profile.risk_level] + nationality_key(profile.nationality)
    return (forms, pack_dob(profile.date_of_birth), sys.intern(rest))


def _decode(record: Record) -> _Scoring:
    forms, dob, rest = record
    return _Scoring([tuple(f.split(" ")) for f in forms.split("|")], unpack_dob(dob), rest[0], rest[2:])


# --- settings derived once ------------------------------------------------------------------------


@dataclass
class _Tuned:
    settings: Matching
    links: Links
    unique: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.unique = frozenset(s.lower() for s in self.settings.unique_schemes)


# --- scoring --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _NameMatch:
    points: float
    full: int = 0
    event_form: int = -1
    profile_form: int = -1
    pairs: list[tuple[str, str, float]] = field(default_factory=list)
    reordered: bool = False
    conflict: bool = False  # a name on each side left unpaired: a different name


def _split_joined(ev: tuple[str, ...], pr: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A multi-word name written as one word on one side ('thanhtung' / 'thanh tung') split as the other
    side writes it, so the two words pair as they should."""

    def split(joined: tuple[str, ...], apart: tuple[str, ...]) -> tuple[str, ...]:
        pairs = {a + b: (a, b) for a, b in pairwise(apart) if len(a) > 1 and len(b) > 1}
        if not pairs:
            return joined
        out: list[str] = []
        for t in joined:
            out.extend(pairs.get(t, (t,)))
        return tuple(out)

    return split(ev, pr), split(pr, ev)


def _compare_tokens(ev: tuple[str, ...], pr: tuple[str, ...], tuned: _Tuned, bits: Callable[[str], float]) -> _NameMatch:
    """Pair tokens greedily, best similarity first; a pair is worth its similarity times the bits of the
    profile token's sound (rarer names weigh more); unpaired tokens count against, and more when both
    sides have one left over (a different name, not a dropped middle name)."""
    weights, threshold = tuned.settings.weights, tuned.settings.min_token_similarity
    ev, pr = _split_joined(ev, pr)
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(ev):
        for j, b in enumerate(pr):
            if len(a) == 1 or len(b) == 1:
                if a[0] == b[0]:
                    candidates.append((0.5, i, j))  # an initial: after every real token match
            else:
                s = token_similarity(a, b)
                if s >= threshold:
                    candidates.append((s, i, j))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_ev: dict[int, int] = {}
    used_pr: set[int] = set()
    result = _NameMatch(0.0)
    for s, i, j in candidates:
        if i in used_ev or j in used_pr:
            continue
        used_ev[i] = j
        used_pr.add(j)
        a, b = ev[i], pr[j]
        if len(a) == 1 or len(b) == 1:
            result.points += weights.initial
            result.pairs.append((a, b, 0.0))
        else:
            # Partial credit for a near spelling: full at 1, two thirds at 0.9, none at 0.7.
            result.points += bits(_frequency_key(b)) * max(0.0, (s - 0.7) / 0.3)
            result.full += 1
            result.pairs.append((a, b, s))
    for i, a in enumerate(ev):
        if i not in used_ev:
            result.points -= weights.name_unmatched_reported if len(a) > 1 else weights.initial
    left_on_profile = sum(1 for j, b in enumerate(pr) if j not in used_pr and len(b) > 1)
    result.points -= weights.name_unmatched_profile * left_on_profile
    if result.full and left_on_profile and any(i not in used_ev and len(a) > 1 for i, a in enumerate(ev)):
        result.points -= weights.name_conflict
        result.conflict = True
    order = [used_ev[i] for i in sorted(used_ev)]
    result.reordered = order != sorted(order)
    return result


@lru_cache(maxsize=200_000)
def _form_sounds(form: str) -> frozenset[str]:
    return frozenset(sound(t) for t in form.split(" ") if len(t) > 1)


def _compare_names(
    ev_forms: list[tuple[str, ...]],
    ev_sounds: list[frozenset[str]],
    pr_forms: list[str],
    compare: Callable[[int, str], _NameMatch],
) -> _NameMatch:
    """The best pairing of a reported form with a profile form. Forms that share no name sound are
    not compared in full (a near spelling alone scores too little to matter)."""
    best = _NameMatch(-math.inf)
    for j, pr in enumerate(pr_forms):
        pr_sounds = _form_sounds(pr)
        for i in range(len(ev_forms)):
            if ev_sounds[i].isdisjoint(pr_sounds) and best.points > -math.inf:
                continue
            found = compare(i, pr)
            if found.points > best.points:
                best = _NameMatch(found.points, found.full, i, j, found.pairs, found.reordered, found.conflict)
    return best


@dataclass(slots=True)
class _Evidence:
    """Points for one candidate profile, and what they came from (explained only for the best)."""

    slot: int
    points: float = 0.0
    name: _NameMatch | None = None
    dob: str = ""  # one of the kinds of alerts.matching.dates, "" when either side has none
    identifiers: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)


@dataclass
class _Probe:
    """The report, reduced once for every candidate."""

    forms: list[Form]
    tokens: list[tuple[str, ...]]
    sounds: list[frozenset[str]]  # per form, the sounds of its full tokens
    dob: Dob | None
    sex: str
    nationality: str
    identifiers: list[tuple[str, str, str]]  # (scheme, normalised value, as written)
    plates: dict[str, str]  # normalised -> as written
    phones: dict[str, str]
    companions: list[tuple[list[str], str]]  # (name words, where in the report) to look for associates
    reported: date
    family: str | None = None  # the reported family name, as written
    family_tokens: frozenset[str] = frozenset()  # its full tokens (not initials)
    joined: list[tuple[str, ...]] = field(default_factory=list)  # for blocking: adjacent given names as one

    @classmethod
    def of(cls, event: PlacementEvent) -> _Probe:
        child = event.child
        forms = _forms_of(child)
        identifiers = [(*i.key(), f"{i.scheme} {i.value}") for i in event.identifiers()]
        plates: dict[str, str] = {}
        phones: dict[str, str] = {}
        companions: list[tuple[list[str], str]] = []
        c = event.circumstances
        if c is not None:
            for text in c.vehicles:
                for plate in plate_keys(text):
                    plates.setdefault(plate, text)
            for number in c.phone_numbers:
                phones.setdefault(phone_key(number), number)
            companions = [(name_words(text), "the report") for text in c.accompanied_by]
            if c.notes:
                for plate in plate_keys(c.notes):
                    plates.setdefault(plate, plate)
                for found in _PHONE_IN_TEXT.findall(c.notes):
                    phones.setdefault(phone_key(found), found.strip())
                companions.append((name_words(c.notes), "the report's notes"))
        return cls(
            forms=forms,
            tokens=[f.tokens for f in forms],
            sounds=[frozenset(sound(t) for t in f.tokens if len(t) > 1) for f in forms],
            dob=unpack_dob(pack_dob(child.date_of_birth)),
            sex=_SEX[child.sex],
            nationality=nationality_key(child.nationality),
            identifiers=identifiers,
            plates=plates,
            phones=phones,
            companions=companions,
            reported=event.reported_at.date(),
            family=child.family_name,
            family_tokens=frozenset(t for t in name_tokens(child.family_name or "") if len(t) > 1),
            joined=joined_forms(child.given_names, child.family_name),
        )


def _namesakes(scored: list[_Evidence], best: _Evidence) -> int:
    """Other candidates whose names agree as fully and nearly as well as the best's."""
    if best.name is None:
        return 0
    full, points = best.name.full, best.name.points
    return sum(
        1
        for other in scored
        if other is not best and other.name is not None and other.name.full >= full and other.name.points >= points - 1.0
    )


def _sigmoid(points: float, settings: Matching) -> float:
    z = (points - settings.score_midpoint) / settings.score_spread
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def _decide(score: float, settings: Matching) -> Decision:
    if score >= settings.thresholds.match:
        return Decision.MATCH
    if score >= settings.thresholds.possible_match:
        return Decision.POSSIBLE_MATCH
    return Decision.NO_MATCH


def _family_name_missing(name: _NameMatch | None, probe: _Probe, profile_forms: str) -> bool:
    """Whether the report's family name is in the form that matched, none of it was paired with a
    profile name (word order is ignored: swapped names still pair), and the profile's form has a name
    of its own left unpaired — a different family name, not merely none recorded."""
    if name is None or name.event_form < 0 or name.profile_form < 0 or not probe.family_tokens:
        return False
    written = probe.family_tokens & set(probe.tokens[name.event_form])
    if not written or not written.isdisjoint(a for a, _, _ in name.pairs):
        return False
    theirs = profile_forms.split("|")[name.profile_form].split(" ")
    return any(len(t) > 1 for t in theirs) and not {t for t in theirs if len(t) > 1} <= {b for _, b, _ in name.pairs}


class _Scorer:
    """Scores candidates for one report; remembers name comparisons, which namesakes share."""

    def __init__(self, index: ProfileIndex, probe: _Probe, tuned: _Tuned) -> None:
        self.index, self.probe, self.tuned = index, probe, tuned
        self.names: dict[tuple[str, str], _NameMatch] = {}
        self.comparers: dict[str, Callable[[int, str], _NameMatch]] = {}

    def _comparer(self, nationality: str) -> Callable[[int, str], _NameMatch]:
        """Compares a reported form with one profile form, remembering results: namesakes and aliases
        repeat the same forms across candidates."""
        bits = self.index._bits(nationality, self.tuned)
        memo: dict[tuple[int, str], _NameMatch] = {}
        tokens, tuned = self.probe.tokens, self.tuned

        def compare(i: int, form: str) -> _NameMatch:
            found = memo.get((i, form))
            if found is None:
                found = memo[(i, form)] = _compare_tokens(tokens[i], tuple(form.split(" ")), tuned, bits)
            return found

        return compare

    def score(self, slot: int, linked: bool, shared: list[str]) -> _Evidence:
        record = self.index._records[slot]
        assert record is not None
        forms, packed, rest = record
        sex, nationality = rest[0], rest[2:]
        probe, weights = self.probe, self.tuned.settings.weights
        evidence = _Evidence(slot)
        if probe.tokens:
            name = self.names.get((forms, nationality))
            if name is None:
                compare = self.comparers.get(nationality)
                if compare is None:
                    compare = self.comparers[nationality] = self._comparer(nationality)
                name = _compare_names(probe.tokens, probe.sounds, forms.split("|"), compare)
                self.names[(forms, nationality)] = name
            evidence.name = name
            # A shared identifier is not outweighed by extra or differently written names: their cost is capped.
            cap = weights.name_penalty_cap_with_identifier
            evidence.points += max(name.points, -cap) if shared else name.points
            if name.full > 0 and name.profile_form == 0:
                evidence.points += weights.main_name
        if probe.dob is not None and packed:
            settings = self.tuned.settings
            points, evidence.dob = dob_evidence(probe.dob, unpack_dob(packed), settings.weights, settings.dob)
            evidence.points += points
        if probe.sex in "fm" and sex in "fm":
            if probe.sex == sex:
                evidence.points += weights.sex_agree
            else:
                evidence.points -= weights.sex_conflict
                evidence.against.append("sex differs from the profile's")
        if probe.nationality and nationality:
            if probe.nationality == nationality:
                evidence.points += weights.nationality_agree
            else:
                evidence.points -= weights.nationality_conflict
                evidence.against.append("nationality differs from the profile's")
        if shared:
            evidence.points += weights.identifier
            evidence.identifiers = shared
        if linked:
            evidence.points += weights.linked_same_profile
        return evidence


# --- the index ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ranking:
    """Candidate selection for one report: the slots to score, every slot's blocking evidence, and the
    best blocking evidence among those left unscored (with how many were)."""

    slots: list[int]
    blocked: dict[int, float]
    unscored_blocking: float
    unscored: int


class ProfileIndex:
    def __init__(self, settings: Matching | None = None, links: Links | None = None) -> None:
        self._tuned = _Tuned(settings or Matching(), links or Links())
        self._slot_of: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._blobs: list[bytes | None] = []
        self._records: list[Record | None] = []
        self._free: list[int] = []
        # Blocking key -> slots: one slot as a plain int, more as packed int32 in a bytearray. Compact,
        # and invisible to the garbage collector (millions of lists or arrays would make every full
        # collection walk them all).
        self._postings: dict[int, int | bytearray] = {}
        # How many profiles carry each name (by _frequency_key), per nationality ("*": all), for token weights.
        self._profiles_of: Counter[str] = Counter()
        self._sound_count: Counter[tuple[str, str]] = Counter()

    def __len__(self) -> int:
        return len(self._slot_of)

    # --- storage ----------------------------------------------------------------------------------

    def get(self, profile_id: str) -> RiskProfile | None:
        slot = self._slot_of.get(profile_id)
        return None if slot is None else self._profile(slot)

    def _profile(self, slot: int) -> RiskProfile:
        blob = self._blobs[slot]
        assert blob is not None
        return _unpack(blob)

    def _written(self, slot: int) -> dict[str, Any]:
        """The stored profile as plain JSON (validated when it was stored): quicker than the model."""
        blob = self._blobs[slot]
        assert blob is not None
        written: dict[str, Any] = json.loads(_inflate(blob))
        return written

    def upsert(self, profile: RiskProfile) -> None:
        self.remove(profile.profile_id)
        slot = self._free.pop() if self._free else len(self._ids)
        record = _record(profile)
        blob = _pack(profile)
        if slot == len(self._ids):
            self._ids.append(profile.profile_id)
            self._blobs.append(blob)
            self._records.append(record)
        else:
            self._ids[slot], self._blobs[slot], self._records[slot] = profile.profile_id, blob, record
        self._slot_of[profile.profile_id] = slot
        scoring = _decode(record)
        self._count(scoring, +1)
        postings = self._postings
        for key in self._keys(profile, scoring):
            posting = postings.get(key)
            if posting is None:
                postings[key] = slot
            elif isinstance(posting, int):
                postings[key] = bytearray(_INT.pack(posting) + _INT.pack(slot))
            else:
                posting += _INT.pack(slot)

    def remove(self, profile_id: str) -> None:
        slot = self._slot_of.get(profile_id)
        if slot is None:
            return
        profile, record = self._profile(slot), self._records[slot]
        assert record is not None
        scoring = _decode(record)
        postings = self._postings
        for key in self._keys(profile, scoring):
            posting = postings.get(key)
            if posting is None:
                continue
            if isinstance(posting, int):
                if posting == slot:
                    del postings[key]
                continue
            with memoryview(posting) as view, view.cast("i") as slots:
                at = slots.tolist().index(slot) if slot in slots else -1
            if at < 0:
                continue
            del posting[4 * at : 4 * at + 4]
            if len(posting) == 4:  # one left: back to a plain int
                postings[key] = _INT.unpack(posting)[0]
        self._count(scoring, -1)
        del self._slot_of[profile_id]
        self._ids[slot] = self._blobs[slot] = self._records[slot] = None
        self._free.append(slot)

    def _count(self, scoring: _Scoring, step: int) -> None:
        keys = _frequency_keys(scoring.forms)
        for nationality in {"*", scoring.nationality}:
            self._profiles_of[nationality] += step
            for key in keys:
                self._sound_count[(nationality, key)] += step

    def _bits(self, nationality: str, tuned: _Tuned) -> Callable[[str], float]:
        """Points for a name in common with a profile of this nationality: -log2 of its share there."""
        frequency = tuned.settings.name_frequency
        group = nationality or "*"
        profiles = self._profiles_of[group]
        prior = frequency.prior_weight * frequency.prior_share
        cache: dict[str, float] = {}

        def bits(code: str) -> float:
            if code not in cache:
                share = (self._sound_count[(group, code)] + prior) / (profiles + frequency.prior_weight)
                cache[code] = min(frequency.max_points, max(frequency.min_points, -math.log2(share)))
            return cache[code]

        return bits

    @staticmethod
    def _keys(profile: RiskProfile, scoring: _Scoring) -> set[int]:
        forms = scoring.forms + joined_forms(profile.given_names, profile.family_name)
        keys = set(_identity_keys(forms, _profile_years(scoring.dob), _sexes(scoring.sex, probing=False)))
        if scoring.dob is not None:
            keys.add(_dob_key(scoring.dob.value))
        keys.update(_identifier_key(*identifier.key()) for identifier in profile.identifiers)
        keys |= _link_keys(profile)
        return keys

    def _posting(self, key: int) -> Sequence[int]:
        posting = self._postings.get(key)
        if posting is None:
            return ()
        if isinstance(posting, int):
            return (posting,)
        return memoryview(posting).cast("i")

    # --- matching ---------------------------------------------------------------------------------

    def _tuning(self, settings: Matching | None, links: Links | None) -> _Tuned:
        tuned = self._tuned
        if (settings is not None and settings is not tuned.settings) or (links is not None and links is not tuned.links):
            return _Tuned(settings or tuned.settings, links or tuned.links)
        return tuned

    def match(self, event: PlacementEvent, settings: Matching | None = None, links: Links | None = None) -> MatchResult:
        """The best profile for this event, with a score and what matched, and every circumstantial link."""
        tuned = self._tuning(settings, links)
        probe = _Probe.of(event)
        found_links = self._links(probe, tuned)
        linked = {self._slot_of[link.profile_id] for link in found_links if link.profile_id in self._slot_of}
        holders = self._identifier_holders(probe)
        shared: dict[int, list[str]] = {}
        for (_, _, written), held in zip(probe.identifiers, holders, strict=True):
            for slot in held:
                shared.setdefault(slot, []).append(written)
        ranking = self._ranked(probe, tuned, tuned.settings.blocking.max_candidates)
        slots = set(ranking.slots) | linked | set(shared)
        scorer = _Scorer(self, probe, tuned)
        scored = [scorer.score(slot, slot in linked, shared.get(slot, [])) for slot in slots]
        if tuned.unique and any(scheme in tuned.unique for scheme, _, _ in probe.identifiers):
            # Only the leaders are opened to look for a conflicting Home Office / NRM reference.
            scored.sort(key=lambda e: -e.points)
            for evidence in scored[:5]:
                self._identifier_conflicts(evidence, probe, tuned)
        scored.sort(key=lambda e: (-e.points, self._ids[e.slot] or ""))
        link_lines = [link.detail for link in found_links]
        if not scored:
            return MatchResult(decision=Decision.NO_MATCH, links=found_links, explanation=link_lines)

        def score_of(evidence: _Evidence) -> float:
            return _sigmoid(evidence.points, tuned.settings)

        best = scored[0]
        score = round(score_of(best), 3)
        decision = _decide(score, tuned.settings)
        linked_profile = self._best_linked(scored, linked, best, score_of)
        if decision == Decision.NO_MATCH:
            return MatchResult(decision=decision, score=score, links=found_links, explanation=link_lines)
        profile_id = self._ids[best.slot]
        assert profile_id is not None
        case = rules.Case(
            profile_id=profile_id,
            score=score,
            has_identifier=bool(best.identifiers),
            sole_holder=any(held == [best.slot] for held in holders),
            full_names=best.name.full if best.name is not None else 0,
            family_name_missing=_family_name_missing(best.name, probe, self._record_forms(best.slot)),
            reported_family=probe.family,
            runners=self._runners(scored, best, score_of, tuned),
            unscored=ranking.unscored if ranking.unscored_blocking >= ranking.blocked.get(best.slot, 0.0) else 0,
            linked=best.slot in linked,
            dob_agrees_exactly=best.dob in (dates.EXACT, dates.CLOSE),
            dob_conflicts=best.dob == dates.CONFLICT,
            namesakes=_namesakes(scored, best),
            expected_namesakes=self._expected_namesakes(best),
            linked_profile=linked_profile,
            possible_at=tuned.settings.thresholds.possible_match,
        )
        verdict = rules.decide(case, rules.Verdict(decision, profile_id, tuple(self._explain(best, probe, decision, score))))
        if verdict.profile_id != profile_id:
            score = linked_profile[1] if verdict.profile_id is not None and linked_profile is not None else score
        if verdict.decision == Decision.MATCH or verdict.decision == Decision.POSSIBLE_MATCH:
            verb = "matched" if verdict.decision == Decision.MATCH else "possibly matched"
            lines = list(verdict.explanation)
            if verdict.profile_id == profile_id and lines and lines[0].startswith(("matched", "possibly matched")):
                lines[0] = verb + lines[0].split("matched", 1)[1]
            explanation = lines
        else:
            explanation = list(verdict.explanation)
        return MatchResult(
            decision=verdict.decision,
            profile_id=verdict.profile_id,
            score=round(score, 3),
            explanation=explanation + link_lines,
            links=found_links,
            alternatives=list(verdict.alternatives),
        )

    def _expected_namesakes(self, best: _Evidence) -> float:
        """Profiles of the best's nationality times the share its name's bits say: 2 ** -bits."""
        record = self._records[best.slot]
        if best.name is None or record is None:
            return 0.0
        group = record[2][2:] or "*"
        return float(self._profiles_of[group] * 2.0 ** -max(0.0, best.name.points))

    def _best_linked(
        self, scored: list[_Evidence], linked: set[int], best: _Evidence, score_of: Callable[[_Evidence], float]
    ) -> tuple[str, float] | None:
        if not linked or best.slot in linked:
            return None
        for evidence in scored:
            if evidence.slot in linked:
                profile_id = self._ids[evidence.slot]
                assert profile_id is not None
                return profile_id, round(score_of(evidence), 3)
        return None

    def _runners(
        self, scored: list[_Evidence], best: _Evidence, score_of: Callable[[_Evidence], float], tuned: _Tuned
    ) -> tuple[rules.Runner, ...]:
        """Candidates within the ambiguity margin of the best and above the possible threshold."""
        record = self._records[best.slot]
        runners = []
        for runner in scored[1:]:
            if best.points - runner.points > tuned.settings.ambiguity_margin:
                break
            runner_score = score_of(runner)
            if runner_score < tuned.settings.thresholds.possible_match:
                continue
            runner_id, theirs = self._ids[runner.slot], self._records[runner.slot]
            assert runner_id is not None and theirs is not None and record is not None
            same = theirs[0] == record[0] and theirs[1] == record[1]
            runners.append(rules.Runner(runner_id, round(runner_score, 2), same))
        return tuple(runners)

    def candidates(self, event: PlacementEvent, settings: Matching | None = None, links: Links | None = None) -> set[str]:
        """The profile ids `match` would score for this event (to measure candidate generation alone)."""
        tuned = self._tuning(settings, links)
        probe = _Probe.of(event)
        slots = self._candidates(probe, tuned)
        slots |= {self._slot_of[link.profile_id] for link in self._links(probe, tuned) if link.profile_id in self._slot_of}
        for held in self._identifier_holders(probe):
            slots |= set(held)
        return {profile_id for slot in slots if (profile_id := self._ids[slot]) is not None}

    def _record_forms(self, slot: int) -> str:
        record = self._records[slot]
        assert record is not None
        return record[0]

    def _identifier_holders(self, probe: _Probe) -> list[list[int]]:
        """For each of the report's identifiers, the slots that carry it (checked on the profile)."""
        return [
            [
                slot
                for slot in self._posting(_identifier_key(scheme, value))
                if any(i.key() == (scheme, value) for i in self._profile(slot).identifiers)
            ]
            for scheme, value, _ in probe.identifiers
        ]

    def _identifier_conflicts(self, evidence: _Evidence, probe: _Probe, tuned: _Tuned) -> None:
        ours = {(s, v) for s, v, _ in probe.identifiers}
        schemes = {s for s, _ in ours} & tuned.unique
        for identifier in self._profile(evidence.slot).identifiers:
            scheme, value = identifier.key()
            if scheme in schemes and (scheme, value) not in ours:
                evidence.points -= tuned.settings.weights.identifier_conflict
                evidence.against.append(f"a different {identifier.scheme} identifier")

    def _candidates(self, probe: _Probe, tuned: _Tuned) -> set[int]:
        """The best-blocked by name, sex and year of birth."""
        return set(self._ranked(probe, tuned, tuned.settings.blocking.max_candidates).slots)

    def _ranked(self, probe: _Probe, tuned: _Tuned, limit: int) -> _Ranking:
        """The `limit` best candidates by name, best first.

        Pairs of name sounds (or a sound and an initial) shared in a year of birth near the report's
        count, more for the same year; the most selective keys are read first, and reading stops at
        blocking.max_scanned slots, so a very common name costs no more than a rare one. Single sounds
        count only when the rest finds too little. The very same exact date of birth is a boost.
        """
        blocking = tuned.settings.blocking
        forms = probe.tokens + probe.joined
        keys = _identity_keys(forms, _probe_years(probe.dob, probe.reported), _sexes(probe.sex, probing=True))
        center = date.fromordinal(probe.dob.value).year if probe.dob is not None else None
        # Keys grouped by what they are without the year: a candidate counts each at its best year only.
        groups: dict[int, list[tuple[float, Sequence[int]]]] = {}
        single_whats: set[int] = set()
        posting_of = self._posting
        for key, (kind, year, what) in keys.items():
            posting = posting_of(key)
            size = len(posting)
            if not size or size > blocking.max_block_size:
                continue
            weight = kind if center is None else kind * (0.5 if year == 0 else _YEAR_FACTOR.get(abs(year - center), 0.25))
            groups.setdefault(what, []).append((weight, posting))
            if kind == SINGLE:
                single_whats.add(what)
        found = sorted((sum(len(p) for _, p in g), what, g) for what, g in groups.items() if what not in single_whats)
        singles = sorted((sum(len(p) for _, p in g), what, g) for what, g in groups.items() if what in single_whats)
        hits: dict[int, float] = {}
        get = hits.get
        budget = blocking.max_scanned
        for ordered in (found, singles):
            if ordered is singles and len(hits) >= blocking.max_candidates:
                break
            for size, _, group in ordered:
                if size > budget and hits:
                    break
                budget -= size
                if len(group) == 1:
                    weight, posting = group[0]
                    for slot in posting:
                        hits[slot] = get(slot, 0.0) + weight
                    continue
                best_year: dict[int, float] = {}
                for weight, posting in group:
                    for slot in posting:
                        if weight > best_year.get(slot, 0.0):
                            best_year[slot] = weight
                for slot, weight in best_year.items():
                    hits[slot] = get(slot, 0.0) + weight
        if probe.dob is not None and probe.dob.exact and hits:
            same_day = self._posting(_dob_key(probe.dob.value))
            if len(same_day) <= blocking.max_block_size:
                for slot in same_day:
                    if slot in hits:
                        hits[slot] += PAIR
        best = nlargest(limit + 1, hits, key=lambda slot: (hits[slot], -slot))
        unscored_blocking, unscored = (hits[best[limit]], len(hits) - limit) if len(best) > limit else (0.0, 0)
        # Those that share less than a third of the leader's blocking evidence could not win: not scored.
        floor = hits[best[0]] / 3 if best else 0.0
        return _Ranking([slot for slot in best[:limit] if hits[slot] >= floor], hits, unscored_blocking, unscored)

    def _explain(self, best: _Evidence, probe: _Probe, decision: Decision, score: float) -> list[str]:
        record = self._records[best.slot]
        assert record is not None
        lines: list[str] = []
        name = best.name
        verb = "matched" if decision == Decision.MATCH else "possibly matched"
        headline = f"{verb} profile {self._ids[best.slot]} (score {score:.2f})"
        parts: list[str] = []
        if name is not None and name.full > 0:
            written = self._written(best.slot)  # the names as the profile spells them (the record is folded)
            form = name_forms(written["given_names"], written.get("family_name"), written.get("aliases", []))[name.profile_form]
            reported = probe.forms[name.event_form]
            said = "" if fold(reported.written) == fold(form.written) else f" (reported as '{reported.written}')"
            parts.append(f"on {form.kind} '{form.written}'{said}")
        pr_dob = unpack_dob(record[1])
        if best.dob and best.dob != dates.CONFLICT and probe.dob is not None and pr_dob is not None:
            parts.append(dates.dob_line(best.dob, probe.dob, pr_dob))
        lines.append(headline + (": " + ", ".join(parts) if parts else ""))
        if name is not None and name.full > 0:
            details = []
            for a, b, s in name.pairs:
                if s == 0.0:
                    details.append(f"'{a}' initial of '{b}'" if len(a) == 1 else f"'{a}' has initial '{b}'")
                elif a != b:
                    details.append(f"'{a}' ~ '{b}' (spelling or transliteration)")
            if name.reordered:
                details.append("word order differs (given and family names swapped)")
            if details:
                lines.append("names: " + "; ".join(details))
        lines += [f"shared identifier {written}" for written in best.identifiers]
        against = list(best.against)
        if best.dob == dates.CONFLICT and probe.dob is not None and pr_dob is not None:
            against.insert(0, dates.dob_line(best.dob, probe.dob, pr_dob))
        if against:
            lines.append("against: " + "; ".join(against))
        return lines

    # --- circumstantial links ---------------------------------------------------------------------

    def _links(self, probe: _Probe, tuned: _Tuned) -> list[ProfileLink]:
        """Every profile that a registration, phone number or companion in the report is recorded on;
        the highest-risk first, at most links.max_links. All exact keys: no profile is opened."""
        found: dict[tuple[int, str, str], str] = {}
        for plate in probe.plates:
            for slot in self._posting(hash(f"v\x1f{plate}")):
                found.setdefault((slot, "vehicle", plate), f"vehicle {plate} in the report is recorded against profile {{}}")
        for key, written in probe.phones.items():
            for slot in self._posting(hash(f"t\x1f{key}")):
                found.setdefault((slot, "phone", key), f"phone {written} in the report is recorded against profile {{}}")
        for words, where in probe.companions:
            for size in (2, 3):
                for start in range(len(words) - size + 1):
                    window = words[start : start + size]
                    name = associate_key(window)
                    if name is None:
                        continue
                    said = " ".join(window)
                    posting = self._posting(hash(f"a\x1f{name}"))
                    if len(posting) > MAX_ASSOCIATE_LINKS:  # a name that common says nothing about who
                        continue
                    for slot in posting:
                        found.setdefault(
                            (slot, "associate", name), f"'{said}' in {where} is an associate recorded on profile {{}}"
                        )

        def rank(item: tuple[tuple[int, str, str], str]) -> tuple[int, str, str]:
            (slot, kind, _), _ = item
            record = self._records[slot]
            assert record is not None
            return (-_RISK_OF[record[2][1]].rank, self._ids[slot] or "", kind)

        links = []
        for (slot, kind, _), detail in sorted(found.items(), key=rank)[: tuned.links.max_links]:
            profile_id, record = self._ids[slot], self._records[slot]
            assert profile_id is not None and record is not None
            links.append(
                ProfileLink(
                    profile_id=profile_id,
                    kind=kind,  # type: ignore[arg-type]
                    detail=detail.format(profile_id),
                    risk_level=_RISK_OF[record[2][1]],
                )
            )
        return links


__all__ = ["Form", "ProfileIndex", "name_forms"]
