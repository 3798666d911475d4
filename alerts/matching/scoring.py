"""Scoring one candidate: names token by token (rarer names weigh more), the date of birth
(alerts.matching.dates), sex, nationality, identifiers and links as points of evidence."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

from alerts.config import Links, Matching
from alerts.identity import (
    Dob,
    name_tokens,
    name_words,
    nationality_key,
    pack_dob,
    phone_key,
    plate_keys,
    sound,
    token_similarity,
    unpack_dob,
)
from alerts.matching.dates import dob_evidence
from alerts.matching.keys import (
    _PHONE_IN_TEXT,
    Form,
    _forms_of,
    _frequency_key,
    _pair_frequency_key,
    frequency_group,
    joined_forms,
)
from alerts.matching.storage import _SEX
from alerts.model import (
    Decision,
    PlacementEvent,
)
from alerts.short_forms import DROPPABLE_MIDDLE_NAMES

if TYPE_CHECKING:
    from alerts.matching.index import ProfileIndex


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


@lru_cache(maxsize=100_000)
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


def _paid_twice(adjacent: tuple[str, ...], paid: dict[int, float], bits: Callable[[str], float]) -> float:
    """What two adjacent profile names both paired were overpaid as independent names: a multi-word
    given name ('Thanh Tùng', 'Mohammed Ali') is paid the bits of the two together, when the index
    holds them together more often than chance. `adjacent[j]` counts names j and j + 1 together."""
    over, j = 0.0, 0
    while j < len(adjacent):
        if j in paid and j + 1 in paid:
            both = paid[j] + paid[j + 1]
            together = max(paid[j], paid[j + 1], bits(adjacent[j]))
            if together < both:
                over += both - together
                j += 2
                continue
        j += 1
    return over


@dataclass(frozen=True, slots=True)
class _Pairing:
    """Which reported name pairs with which profile name: the same for every index and nationality,
    so worked out once per pair of forms (namesakes repeat the same forms); only the bits differ."""

    pairs: tuple[tuple[int, str, str, float, str], ...]  # (profile token, reported, profile, similarity, frequency key)
    adjacent: tuple[str, ...]  # frequency keys of adjacent profile names counted together
    unpaired_full: int  # reported full names left unpaired
    unpaired_initials: int
    left_on_profile: int  # profile full names left unpaired
    reordered: bool


def _candidate_pairs(ev: tuple[str, ...], pr: tuple[str, ...], threshold: float) -> list[tuple[float, int, int]]:
    """Every (similarity, reported, profile) pair similar enough, best first; an initial after every
    real token match."""
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(ev):
        for j, b in enumerate(pr):
            if len(a) == 1 or len(b) == 1:
                if a[0] == b[0]:
                    candidates.append((0.5, i, j))
            else:
                s = token_similarity(a, b)
                if s >= threshold:
                    candidates.append((s, i, j))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    return candidates


def _droppable_left_out(unpaired: list[str], left: list[str]) -> tuple[list[str], list[str]]:
    """A Vietnamese Văn / Thị left over on one side is no evidence of another name when nothing is left
    over on the other (records keep or drop it at will); in the place of another name it is one."""
    if not any(len(b) > 1 for b in left):
        unpaired = [a for a in unpaired if a not in DROPPABLE_MIDDLE_NAMES]
    if not any(len(a) > 1 for a in unpaired):
        left = [b for b in left if b not in DROPPABLE_MIDDLE_NAMES]
    return unpaired, left


@lru_cache(maxsize=200_000)
def _pairing(ev: tuple[str, ...], pr: tuple[str, ...], threshold: float) -> _Pairing:
    """Pair tokens greedily, best similarity first."""
    ev, pr = _split_joined(ev, pr)
    used_ev: dict[int, int] = {}
    used_pr: set[int] = set()
    pairs: list[tuple[int, str, str, float, str]] = []
    for s, i, j in _candidate_pairs(ev, pr, threshold):
        if i in used_ev or j in used_pr:
            continue
        used_ev[i] = j
        used_pr.add(j)
        a, b = ev[i], pr[j]
        initial = len(a) == 1 or len(b) == 1
        pairs.append((j, a, b, 0.0 if initial else s, "" if initial else _frequency_key(b)))
    unpaired = [a for i, a in enumerate(ev) if i not in used_ev]
    left = [b for j, b in enumerate(pr) if j not in used_pr and len(b) > 1]
    unpaired, left = _droppable_left_out(unpaired, left)
    order = [used_ev[i] for i in sorted(used_ev)]
    return _Pairing(
        pairs=tuple(pairs),
        adjacent=tuple(_pair_frequency_key(a, b) for a, b in pairwise(pr)),
        unpaired_full=sum(1 for a in unpaired if len(a) > 1),
        unpaired_initials=sum(1 for a in unpaired if len(a) == 1),
        left_on_profile=len(left),
        reordered=order != sorted(order),
    )


def _compare_tokens(ev: tuple[str, ...], pr: tuple[str, ...], tuned: _Tuned, bits: Callable[[str], float]) -> _NameMatch:
    """A pair is worth its similarity times the bits of the profile token's sound (rarer names weigh
    more); unpaired tokens count against, and more when both sides have one left over (a different
    name, not a dropped middle name)."""
    weights = tuned.settings.weights
    pairing = _pairing(ev, pr, tuned.settings.min_token_similarity)
    result = _NameMatch(0.0, reordered=pairing.reordered)
    paid: dict[int, float] = {}  # profile token -> points paid for it
    for j, a, b, s, key in pairing.pairs:
        result.pairs.append((a, b, s))
        if not key:
            result.points += weights.initial
            continue
        # Partial credit for a near spelling: full at 1, two thirds at 0.9, none at 0.7.
        earned = bits(key) * max(0.0, (s - 0.7) / 0.3)
        paid[j] = earned
        result.points += earned
        result.full += 1
    result.points -= _paid_twice(pairing.adjacent, paid, bits)
    result.points -= weights.name_unmatched_reported * pairing.unpaired_full + weights.initial * pairing.unpaired_initials
    result.points -= weights.name_unmatched_profile * pairing.left_on_profile
    if result.full and pairing.left_on_profile and pairing.unpaired_full:
        result.points -= weights.name_conflict
        result.conflict = True
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
    identifiers: list[str] | tuple[str, ...] = ()  # no list made per candidate: most have none
    against: tuple[str, ...] = ()


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
        self.dobs: dict[int, tuple[float, str]] = {}  # packed profile date -> evidence: namesakes share estimates

    def _comparer(self, group: str) -> Callable[[int, str], _NameMatch]:
        """Compares a reported form with one profile form, remembering results: namesakes and aliases
        repeat the same forms across candidates."""
        bits = self.index._bits(group, self.tuned)
        memo: dict[tuple[int, str], _NameMatch] = {}
        tokens, tuned = self.probe.tokens, self.tuned

        def compare(i: int, form: str) -> _NameMatch:
            found = memo.get((i, form))
            if found is None:
                found = memo[(i, form)] = _compare_tokens(tokens[i], tuple(form.split(" ")), tuned, bits)
            return found

        return compare

    def _dob(self, reported: Dob, packed: int) -> tuple[float, str]:
        """The date-of-birth evidence against a profile's packed date, worked out once per report."""
        found = self.dobs.get(packed)
        if found is None:
            settings = self.tuned.settings
            found = self.dobs[packed] = dob_evidence(reported, unpack_dob(packed), settings.weights, settings.dob)
        return found

    def score(self, slot: int, linked: bool, shared: list[str]) -> _Evidence:
        record = self.index._records[slot]
        assert record is not None
        forms, packed, rest = record
        sex, nationality = rest[0], rest[2:]
        probe, weights = self.probe, self.tuned.settings.weights
        evidence = _Evidence(slot)
        if probe.tokens:
            # Names are paid their share among profiles of the same nationality, and of the same sex
            # when both records give it (the agreement on sex is paid below, once).
            group = frequency_group(nationality, sex if sex == probe.sex else "")
            name = self.names.get((forms, group))
            if name is None:
                compare = self.comparers.get(group)
                if compare is None:
                    compare = self.comparers[group] = self._comparer(group)
                name = _compare_names(probe.tokens, probe.sounds, forms.split("|"), compare)
                self.names[(forms, group)] = name
            evidence.name = name
            # A shared identifier is not outweighed by extra or differently written names: their cost is capped.
            cap = weights.name_penalty_cap_with_identifier
            evidence.points += max(name.points, -cap) if shared else name.points
            if name.full > 0 and name.profile_form == 0:
                evidence.points += weights.main_name
        if probe.dob is not None and packed:
            points, evidence.dob = self._dob(probe.dob, packed)
            evidence.points += points
        if probe.sex in "fm" and sex in "fm":
            if probe.sex == sex:
                evidence.points += weights.sex_agree
            else:
                evidence.points -= weights.sex_conflict
                evidence.against += ("sex differs from the profile's",)
        if probe.nationality and nationality:
            if probe.nationality == nationality:
                evidence.points += weights.nationality_agree
            else:
                evidence.points -= weights.nationality_conflict
                evidence.against += ("nationality differs from the profile's",)
        if shared:
            evidence.points += weights.identifier
            evidence.identifiers = shared
        if linked:
            evidence.points += weights.linked_same_profile
        return evidence
