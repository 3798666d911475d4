"""Match a placement event against flagged risk profiles.

Three paths, each adding points of evidence and a line of explanation:
(a) shared identifiers (a Home Office or NRM reference, a local-authority reference);
(b) identity — names and aliases compared token by token, word order ignored, transliteration- and
    sound-aware (alerts.identity); date of birth within a tolerance that widens for estimated dates and
    disputed ranges; sex and nationality as evidence;
(c) circumstantial links — a vehicle registration, phone number or associate's name in the report that
    is recorded against any profile. A link is reported (`MatchResult.links`) whether or not the child
    has a profile of their own; grading uses it to raise the risk.

The index is held in memory by every worker, rebuilt from the compacted profiles topic at start and
kept current by `upsert` / `remove`. Lookups go through blocking keys (phonetic keys of name tokens,
alone and in pairs, with the year of birth; identifiers; registrations; phone numbers; associates),
never a scan of every profile. Profiles are held compactly — the validated JSON, compressed, plus a
slim record for scoring — so a million fit in well under the memory of a million pydantic objects.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from heapq import nlargest
from itertools import combinations

from alerts.identity import (
    Dob,
    dob_gap_days,
    fold,
    name_tokens,
    nationality_key,
    pack_dob,
    phone_key,
    plate_keys,
    profile_plates,
    respelled,
    sound,
    token_similarity,
    transposed,
    unpack_dob,
)
from alerts.model import (
    Child,
    Decision,
    MatchResult,
    PlacementEvent,
    ProfileLink,
    RiskProfile,
)
from alerts.config import Links, Matching

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
# Hashes of short strings: an int key costs less memory than the string. A collision only adds a
# candidate, which is then scored (or, for identifiers and links, checked against the profile itself).


def _codes(forms: list[tuple[str, ...]]) -> list[str]:
    return sorted({sound(t) for tokens in forms for t in tokens if len(t) > 1})


def _frequency_key(token: str) -> str:
    """What a name's frequency is counted by: its sound, unless that is too short to tell names apart
    ('thi' and 'do' both sound 'T'), then its respelling."""
    key = sound(token)
    return key if len(key) >= 3 else respelled(token)


def _frequency_keys(forms: list[tuple[str, ...]]) -> set[str]:
    return {_frequency_key(t) for tokens in forms for t in tokens if len(t) > 1}


def _identity_keys(forms: list[tuple[str, ...]], years: list[int]) -> dict[int, int]:
    """Blocking key -> weight: pairs of name sounds (3), a sound with another token's initial (2), a
    single sound (1); each with a year of birth (0 when unknown)."""
    codes = _codes(forms)
    keys: dict[int, int] = {}
    for year in years:
        y = str(year)
        for code in codes:
            keys[hash(f"s\x1f{code}\x1f{y}")] = 1
        for a, b in combinations(codes, 2):
            keys[hash(f"p\x1f{a}\x1f{b}\x1f{y}")] = 3
        for tokens in forms:
            for t in tokens:
                if len(t) > 1:
                    for u in tokens:
                        if u is not t:
                            keys.setdefault(hash(f"i\x1f{sound(t)}\x1f{u[0]}\x1f{y}"), 2)
    return keys


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
    keys: set[int] = set()
    for name in names:
        codes = sorted({sound(t) for t in name_tokens(name) if len(t) > 1})
        if len(codes) == 1:
            keys.add(hash(f"a1\x1f{codes[0]}"))
        keys.update(hash(f"a\x1f{a}\x1f{b}") for a, b in combinations(codes, 2))
    return keys


def _link_keys(profile: RiskProfile) -> set[int]:
    keys = {hash(f"v\x1f{plate}") for vehicle in profile.vehicles for plate in profile_plates(vehicle)}
    keys |= {hash(f"t\x1f{phone_key(phone)}") for phone in profile.phone_numbers}
    keys |= _associate_keys([associate.name for associate in profile.associates])
    return keys


# --- the compact record ---------------------------------------------------------------------------

_SEX = {"female": "f", "male": "m", "other": "o", "unknown": "u"}


@dataclass(frozen=True, slots=True)
class _Scoring:
    """What scoring needs of one profile, decoded from the slim record."""

    forms: list[tuple[str, ...]]
    dob: Dob | None
    sex: str
    nationality: str


def _record(profile: RiskProfile) -> tuple[str, int, str]:
    forms = "|".join(" ".join(form.tokens) for form in _forms_of(profile))
    return (forms, pack_dob(profile.date_of_birth), _SEX[profile.sex] + nationality_key(profile.nationality))


def _decode(record: tuple[str, int, str]) -> _Scoring:
    forms, dob, rest = record
    return _Scoring([tuple(f.split(" ")) for f in forms.split("|")], unpack_dob(dob), rest[0], rest[1:])


# --- settings derived once ------------------------------------------------------------------------


@dataclass
class _Tuned:
    settings: Matching
    links: Links
    ignore: frozenset[str] = frozenset()
    unique: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.ignore = frozenset(t for word in self.links.ignore_words for t in name_tokens(word))
        self.unique = frozenset(s.lower() for s in self.settings.unique_schemes)


# --- scoring --------------------------------------------------------------------------------------


@dataclass
class _NameMatch:
    points: float
    full: int = 0
    event_form: int = -1
    profile_form: int = -1
    pairs: list[tuple[str, str, float]] = field(default_factory=list)
    reordered: bool = False


def _compare_tokens(ev: tuple[str, ...], pr: tuple[str, ...], tuned: _Tuned, bits: Callable[[str], float]) -> _NameMatch:
    """Pair tokens greedily, best similarity first; a pair is worth its similarity times the bits of the
    profile token's sound (rarer names weigh more); unpaired tokens count against."""
    weights, threshold = tuned.settings.weights, tuned.settings.min_token_similarity
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
    result.points -= weights.name_unmatched_profile * sum(1 for j, b in enumerate(pr) if j not in used_pr and len(b) > 1)
    order = [used_ev[i] for i in sorted(used_ev)]
    result.reordered = order != sorted(order)
    return result


def _compare_names(
    ev_forms: list[tuple[str, ...]], pr_forms: list[tuple[str, ...]], tuned: _Tuned, bits: Callable[[str], float]
) -> _NameMatch:
    best = _NameMatch(-math.inf)
    for i, ev in enumerate(ev_forms):
        for j, pr in enumerate(pr_forms):
            found = _compare_tokens(ev, pr, tuned, bits)
            if found.points > best.points:
                found.event_form, found.profile_form = i, j
                best = found
    return best


@dataclass
class _Evidence:
    """Points and the lines that explain them, for one candidate profile."""

    slot: int
    points: float = 0.0
    name: _NameMatch | None = None
    lines: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    dob_note: str = ""


def _dob_points(ev: Dob | None, pr: Dob | None, tuned: _Tuned) -> tuple[float, str, bool]:
    """(points, explanation, is it against)."""
    if ev is None or pr is None:
        return 0.0, "", False
    weights, tolerance = tuned.settings.weights, tuned.settings.dob
    if ev.exact and pr.exact:
        gap = abs(ev.value - pr.value)
        if gap == 0:
            return weights.dob_exact, f"date of birth {ev.describe()}", False
        if gap <= tolerance.exact_days or transposed(ev.value, pr.value) or _year_typo(ev.value, pr.value):
            return weights.dob_close, f"date of birth {ev.describe()} close to the profile's {pr.describe()}", False
        return -weights.dob_conflict, f"date of birth {ev.describe()} differs from the profile's {pr.describe()}", True
    margin = tolerance.estimated_margin_days
    widened = [
        Dob(d.lo - margin, d.hi + margin, d.value, d.estimated) if d.estimated and d.lo == d.hi else d for d in (ev, pr)
    ]
    gap = dob_gap_days(widened[0], widened[1])
    same = "" if ev.describe() == pr.describe() else f", consistent with the profile's {pr.describe()}"
    if gap == 0:
        # Consistent: full weight when the recorded ranges themselves meet, less the further apart
        # the estimates are (half at a whole margin apart).
        raw = dob_gap_days(ev, pr)
        closeness = 1.0 - 0.5 * min(1.0, raw / margin) if margin else 1.0
        return weights.dob_consistent * closeness, f"date of birth {ev.describe()}{same}", False
    if gap <= tolerance.tolerance_days:
        return weights.dob_within_tolerance, f"date of birth {ev.describe()} within tolerance of the profile's {pr.describe()}", False
    return -weights.dob_conflict, f"date of birth {ev.describe()} far from the profile's {pr.describe()}", True


def _year_typo(a: int, b: int) -> bool:
    x, y = date.fromordinal(a), date.fromordinal(b)
    return (x.month, x.day) == (y.month, y.day) and abs(x.year - y.year) == 1


@dataclass
class _Probe:
    """The report, reduced once for every candidate."""

    forms: list[Form]
    tokens: list[tuple[str, ...]]
    dob: Dob | None
    sex: str
    nationality: str
    identifiers: list[tuple[str, str, str]]  # (scheme, normalised value, as written)
    plates: dict[str, str]  # normalised -> as written
    phones: dict[str, str]
    companions: list[tuple[str, tuple[str, ...], bool]]  # (text, tokens, whole entry?) for associates
    reported: date

    @classmethod
    def of(cls, event: PlacementEvent) -> _Probe:
        child = event.child
        forms = _forms_of(child)
        identifiers = [(*i.key(), f"{i.scheme} {i.value}") for i in event.identifiers()]
        plates: dict[str, str] = {}
        phones: dict[str, str] = {}
        companions: list[tuple[str, tuple[str, ...], bool]] = []
        c = event.circumstances
        if c is not None:
            for text in c.vehicles:
                for plate in plate_keys(text):
                    plates.setdefault(plate, text)
            for number in c.phone_numbers:
                phones.setdefault(phone_key(number), number)
            companions = [(text, name_tokens(text), True) for text in c.accompanied_by]
            if c.notes:
                for plate in plate_keys(c.notes):
                    plates.setdefault(plate, plate)
                for found in _PHONE_IN_TEXT.findall(c.notes):
                    phones.setdefault(phone_key(found), found.strip())
                companions.append((c.notes, name_tokens(c.notes), False))
        return cls(
            forms=forms,
            tokens=[f.tokens for f in forms],
            dob=unpack_dob(pack_dob(child.date_of_birth)),
            sex=_SEX[child.sex],
            nationality=nationality_key(child.nationality),
            identifiers=identifiers,
            plates=plates,
            phones=phones,
            companions=companions,
            reported=event.reported_at.date(),
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


# --- the index ------------------------------------------------------------------------------------


class ProfileIndex:
    def __init__(self, settings: Matching | None = None, links: Links | None = None) -> None:
        self._tuned = _Tuned(settings or Matching(), links or Links())
        self._slot_of: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._blobs: list[bytes | None] = []
        self._records: list[tuple[str, int, str] | None] = []
        self._free: list[int] = []
        self._postings: dict[int, list[int]] = {}
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
        return RiskProfile.model_validate_json(zlib.decompress(blob))

    def upsert(self, profile: RiskProfile) -> None:
        self.remove(profile.profile_id)
        slot = self._free.pop() if self._free else len(self._ids)
        record = _record(profile)
        blob = zlib.compress(profile.model_dump_json(exclude_defaults=True).encode(), 6)
        if slot == len(self._ids):
            self._ids.append(profile.profile_id)
            self._blobs.append(blob)
            self._records.append(record)
        else:
            self._ids[slot], self._blobs[slot], self._records[slot] = profile.profile_id, blob, record
        self._slot_of[profile.profile_id] = slot
        self._count(record, +1)
        for key in self._keys(profile, record):
            posting = self._postings.get(key)
            if posting is None:
                self._postings[key] = [slot]
            else:
                posting.append(slot)

    def remove(self, profile_id: str) -> None:
        slot = self._slot_of.get(profile_id)
        if slot is None:
            return
        profile, record = self._profile(slot), self._records[slot]
        assert record is not None
        for key in self._keys(profile, record):
            posting = self._postings.get(key)
            if posting is not None and slot in posting:
                posting.remove(slot)
                if not posting:
                    del self._postings[key]
        self._count(record, -1)
        del self._slot_of[profile_id]
        self._ids[slot] = self._blobs[slot] = self._records[slot] = None
        self._free.append(slot)

    def _count(self, record: tuple[str, int, str], step: int) -> None:
        scoring = _decode(record)
        for nationality in {"*", scoring.nationality}:
            self._profiles_of[nationality] += step
            for key in _frequency_keys(scoring.forms):
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
    def _keys(profile: RiskProfile, record: tuple[str, int, str]) -> set[int]:
        scoring = _decode(record)
        keys = set(_identity_keys(scoring.forms, _profile_years(scoring.dob)))
        keys.update(_identifier_key(*identifier.key()) for identifier in profile.identifiers)
        keys |= _link_keys(profile)
        return keys

    def _posting(self, key: int) -> list[int]:
        return self._postings.get(key, [])

    # --- matching ---------------------------------------------------------------------------------

    def _tuning(self, settings: Matching | None, links: Links | None) -> _Tuned:
        tuned = self._tuned
        if (settings is not None and settings is not tuned.settings) or (links is not None and links is not tuned.links):
            tuned = _Tuned(settings or tuned.settings, links or tuned.links)
            self._tuned = tuned
        return tuned

    def match(self, event: PlacementEvent, settings: Matching | None = None, links: Links | None = None) -> MatchResult:
        """The best profile for this event, with a score and what matched, and every circumstantial link."""
        tuned = self._tuning(settings, links)
        probe = _Probe.of(event)
        found_links = self._links(probe, tuned)
        linked = {link.profile_id for link in found_links}
        slots = self._candidates(probe, tuned)
        slots.update(self._slot_of[pid] for pid in linked if pid in self._slot_of)
        scored = sorted((self._score(slot, probe, tuned, linked) for slot in slots), key=lambda e: (-e.points, self._ids[e.slot]))
        link_lines = [link.detail for link in found_links]
        if not scored:
            return MatchResult(decision=Decision.NO_MATCH, links=found_links, explanation=link_lines)
        best = scored[0]
        score = _sigmoid(best.points, tuned.settings)
        decision = _decide(score, tuned.settings)
        if decision == Decision.NO_MATCH:
            return MatchResult(decision=decision, score=round(score, 3), links=found_links, explanation=link_lines)
        profile_id = self._ids[best.slot]
        assert profile_id is not None
        explanation = self._explain(best, probe, decision, score)
        if len(scored) > 1:
            runner = scored[1]
            runner_score = _sigmoid(runner.points, tuned.settings)
            close = best.points - runner.points <= tuned.settings.ambiguity_margin
            if close and runner_score >= tuned.settings.thresholds.possible_match:
                if decision == Decision.MATCH:
                    decision = Decision.POSSIBLE_MATCH
                explanation.append(
                    f"profile {self._ids[runner.slot]} is almost as close (score {runner_score:.2f}): a person must confirm which"
                )
        return MatchResult(
            decision=decision,
            profile_id=profile_id,
            score=round(score, 3),
            explanation=explanation + link_lines,
            links=found_links,
        )

    def _candidates(self, probe: _Probe, tuned: _Tuned) -> set[int]:
        """Slots sharing an identifier, plus the best-blocked by name and year of birth."""
        slots: set[int] = set()
        for scheme, value, _ in probe.identifiers:
            slots.update(self._posting(_identifier_key(scheme, value)))
        blocking = tuned.settings.blocking
        hits: Counter[int] = Counter()
        for key, weight in _identity_keys(probe.tokens, _probe_years(probe.dob, probe.reported)).items():
            posting = self._postings.get(key)
            if posting is None or len(posting) > blocking.max_block_size:
                continue
            for _ in range(weight):
                hits.update(posting)
        if len(hits) <= blocking.max_candidates:
            slots.update(hits)
        else:
            slots.update(slot for slot, _ in nlargest(blocking.max_candidates, hits.items(), key=lambda kv: (kv[1], -kv[0])))
        return slots

    def _score(self, slot: int, probe: _Probe, tuned: _Tuned, linked: set[str]) -> _Evidence:
        record = self._records[slot]
        assert record is not None
        pr = _decode(record)
        weights = tuned.settings.weights
        evidence = _Evidence(slot)
        name = _compare_names(probe.tokens, pr.forms, tuned, self._bits(pr.nationality, tuned)) if probe.tokens else _NameMatch(0.0)
        evidence.name = name
        evidence.points += name.points
        dob_points, dob_line, dob_against = _dob_points(probe.dob, pr.dob, tuned)
        evidence.points += dob_points
        if dob_line:
            (evidence.against if dob_against else evidence.lines).append(dob_line)
            evidence.dob_note = "" if dob_against else dob_line
        if probe.sex in "fm" and pr.sex in "fm":
            if probe.sex == pr.sex:
                evidence.points += weights.sex_agree
            else:
                evidence.points -= weights.sex_conflict
                evidence.against.append("sex differs from the profile's")
        if probe.nationality and pr.nationality:
            if probe.nationality == pr.nationality:
                evidence.points += weights.nationality_agree
            else:
                evidence.points -= weights.nationality_conflict
                evidence.against.append("nationality differs from the profile's")
        if probe.identifiers:
            profile = None
            ours = {(s, v) for s, v, _ in probe.identifiers}
            for scheme, value, written in probe.identifiers:
                if slot in self._posting(_identifier_key(scheme, value)):
                    profile = profile or self._profile(slot)
                    if any(i.key() == (scheme, value) for i in profile.identifiers):
                        evidence.points += weights.identifier
                        evidence.lines.insert(0, f"shared identifier {written}")
            if tuned.unique & {s for s, _ in ours}:
                profile = profile or self._profile(slot)
                for identifier in profile.identifiers:
                    scheme, value = identifier.key()
                    if scheme in tuned.unique and any(s == scheme for s, _ in ours) and (scheme, value) not in ours:
                        evidence.points -= weights.identifier_conflict
                        evidence.against.append(f"a different {identifier.scheme} identifier")
        if self._ids[slot] in linked:
            evidence.points += weights.linked_same_profile
        return evidence

    def _explain(self, best: _Evidence, probe: _Probe, decision: Decision, score: float) -> list[str]:
        profile = self._profile(best.slot)
        lines: list[str] = []
        name = best.name
        headline = f"{'matched' if decision == Decision.MATCH else 'possibly matched'} profile {profile.profile_id} (score {score:.2f})"
        parts: list[str] = []
        if name is not None and name.full > 0:
            form = _forms_of(profile)[name.profile_form]
            reported = probe.forms[name.event_form]
            said = "" if fold(reported.written) == fold(form.written) else f" (reported as '{reported.written}')"
            parts.append(f"on {form.kind} '{form.written}'{said}")
        if best.dob_note:
            parts.append(best.dob_note)
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
        lines += [line for line in best.lines if line != best.dob_note]
        if best.against:
            lines.append("against: " + "; ".join(best.against))
        return lines

    # --- circumstantial links ---------------------------------------------------------------------

    def _links(self, probe: _Probe, tuned: _Tuned) -> list[ProfileLink]:
        found: dict[tuple[str, str, str], ProfileLink] = {}
        cache: dict[int, RiskProfile] = {}

        def profile(slot: int) -> RiskProfile:
            if slot not in cache:
                cache[slot] = self._profile(slot)
            return cache[slot]

        def add(slot: int, kind: str, value: str, detail: str) -> None:
            p = profile(slot)
            found.setdefault(
                (p.profile_id, kind, value),
                ProfileLink(profile_id=p.profile_id, kind=kind, detail=detail, risk_level=p.risk_level),  # type: ignore[arg-type]
            )

        for plate, written in probe.plates.items():
            for slot in self._posting(hash(f"v\x1f{plate}")):
                if any(plate in profile_plates(v) for v in profile(slot).vehicles):
                    add(slot, "vehicle", plate, f"vehicle {plate} in the report is recorded against profile {self._ids[slot]}")
        for key, written in probe.phones.items():
            for slot in self._posting(hash(f"t\x1f{key}")):
                if any(phone_key(p) == key for p in profile(slot).phone_numbers):
                    add(slot, "phone", key, f"phone {written} in the report is recorded against profile {self._ids[slot]}")
        for text, tokens, whole in probe.companions:
            names = [t for t in tokens if t not in tuned.ignore]
            codes = sorted({sound(t) for t in names if len(t) > 1})
            keys = {hash(f"a1\x1f{c}") for c in codes} if whole else set()
            if whole:
                keys |= {hash(f"a\x1f{a}\x1f{b}") for a, b in combinations(codes, 2)}
            else:  # free-text notes: adjacent words only
                full = [t for t in names if len(t) > 1]
                keys |= {hash(f"a\x1f{min(sound(a), sound(b))}\x1f{max(sound(a), sound(b))}") for a, b in zip(full, full[1:], strict=False)}
            slots: set[int] = set()
            for key in keys:
                posting = self._posting(key)
                if len(posting) <= tuned.settings.blocking.max_block_size:
                    slots.update(posting)
            for slot in sorted(slots):
                for associate in profile(slot).associates:
                    if _associate_named(associate.name, names, tuned):
                        role = f" ({associate.relationship})" if associate.relationship != "unknown" else ""
                        where = "the report" if whole else "the report's notes"
                        add(
                            slot,
                            "associate",
                            fold(associate.name),
                            f"'{associate.name}' in {where} is a known associate{role} on profile {self._ids[slot]}",
                        )
        ranked = sorted(found.values(), key=lambda link: (-link.risk_level.rank, link.profile_id, link.kind, link.detail))
        return ranked[: tuned.links.max_links]


def _associate_named(name: str, words: list[str], tuned: _Tuned) -> bool:
    """Every word of the associate's name (ignoring 'unknown', 'male'…) is among the report's words."""
    wanted = [t for t in name_tokens(name) if t not in tuned.ignore and len(t) > 1]
    if not wanted:
        return False
    if len(wanted) == 1:
        return len(wanted[0]) >= 3 and wanted[0] in words
    return all(any(token_similarity(w, t) >= 0.9 for t in words if len(t) > 1) for w in wanted)


__all__ = ["Form", "ProfileIndex", "name_forms"]
