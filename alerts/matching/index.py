"""The profile index: match a placement event against flagged risk profiles.

Three paths, each adding points of evidence and a line of explanation:
(a) shared identifiers (a Home Office or NRM reference, a local-authority reference);
(b) identity — names and aliases compared token by token, word order ignored, transliteration-,
    sound- and short-form-aware (alerts.identity, alerts.short_forms); the date of birth as exact,
    estimated or ranged evidence (alerts.matching.dates); sex and nationality as evidence;
(c) circumstantial links (alerts.matching.links) — a vehicle registration, phone number or associate's
    name in the report that is recorded against any profile. A link is reported (`MatchResult.links`)
    whether or not the child has a profile of their own; grading uses it to raise the risk.

Points become a score (0..1, a logistic curve) and the score a first decision by the thresholds in
risk.yaml; the decision rules (alerts.matching.rules, an ordered named list) then say when it is only
possible and why, or when a link keeps the claim. docs/matching.md has the figures.

The index is held in memory by every worker, rebuilt from the compacted profiles topic at start and
kept current by `upsert` / `remove`. Lookups go through blocking keys (alerts.matching.keys), never a
scan of every profile. Profiles are held compactly (alerts.matching.storage). No state is kept between
calls to `match`."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from heapq import nlargest, nsmallest
from typing import Any

from alerts.config import Links, Matching
from alerts.identity import (
    fold,
    unpack_dob,
)
from alerts.matching import dates, rules
from alerts.matching.keys import (
    _YEAR_FACTOR,
    PAIR,
    SINGLE,
    Form,
    _dob_key,
    _frequency_groups,
    _frequency_keys,
    _identifier_key,
    _identity_keys,
    _link_keys,
    _probe_years,
    _profile_years,
    _sexes,
    joined_forms,
    name_forms,
)
from alerts.matching.links import find_links
from alerts.matching.scoring import _decide, _Evidence, _family_name_missing, _namesakes, _Probe, _Scorer, _sigmoid, _Tuned
from alerts.matching.storage import _INT, Record, _decode, _inflate, _pack, _record, _Scoring, _unpack
from alerts.model import (
    Decision,
    Identifier,
    MatchResult,
    PlacementEvent,
    ProfileLink,
    RiskProfile,
)

# --- the index ------------------------------------------------------------------------------------


def _headline(verdict: rules.Verdict, first_claim: str) -> list[str]:
    """The explanation, its first line worded for the final decision (a rule may have demoted it)."""
    lines = list(verdict.explanation)
    if verdict.profile_id == first_claim and lines and lines[0].startswith(("matched", "possibly matched")):
        verb = "matched" if verdict.decision == Decision.MATCH else "possibly matched"
        lines[0] = verb + lines[0].split("matched", 1)[1]
    return lines


@dataclass(frozen=True, slots=True)
class _Ranking:
    """Candidate selection for one report: the slots to score, every slot's blocking evidence, and the
    best blocking evidence among those left unscored (with how many were)."""

    slots: list[int]
    blocked: dict[int, float]
    unscored_blocking: float
    unscored: int


# A blocking key group: (slots it holds in all, what the keys are without the year, (weight, posting) per year).
_KeyGroup = tuple[int, int, list[tuple[float, Sequence[int]]]]


def _read_groups(ordered: list[_KeyGroup], hits: defaultdict[int, float], budget: int) -> int:
    """Add each group's blocking evidence to `hits`, most selective first, a slot counting a group at its
    best year only; stop when the next group would overrun the budget of slots read. What is left of it."""
    for size, _, group in ordered:
        if size > budget and hits:
            break
        budget -= size
        if len(group) == 1:
            weight, posting = group[0]
            for slot in posting:
                hits[slot] += weight
            continue
        best_year: dict[int, float] = {}
        for weight, posting in sorted(group, key=lambda year: year[0]):  # the best year last: it overwrites
            best_year.update(dict.fromkeys(posting, weight))
        for slot, weight in best_year.items():
            hits[slot] += weight
    return budget


def _best_blocked(hits: dict[int, float], count: int) -> list[int]:
    """The `count` slots with the most blocking evidence, best first, ties by slot. The cut-off weight
    is found among the bare weights (no tuple per slot), then only those at or above it are ordered."""
    if len(hits) > count:
        cut = nlargest(count, hits.values())[-1]
        above = [slot for slot, weight in hits.items() if weight > cut]
        tied = nsmallest(count - len(above), (slot for slot, weight in hits.items() if weight == cut))
    else:
        above, tied = list(hits), []
    above.sort(key=lambda slot: (-hits[slot], slot))
    return above + tied


def _ranking(hits: dict[int, float], limit: int) -> _Ranking:
    """The `limit` best-blocked slots, best first (ties by slot), with the best left unscored."""
    best = _best_blocked(hits, limit + 1)
    unscored_blocking, unscored = (hits[best[limit]], len(hits) - limit) if len(best) > limit else (0.0, 0)
    # Those that share less than a third of the leader's blocking evidence could not win: not scored.
    floor = hits[best[0]] / 3 if best else 0.0
    return _Ranking([slot for slot in best[:limit] if hits[slot] >= floor], hits, unscored_blocking, unscored)


@dataclass(frozen=True, slots=True)
class _Search:
    """One report's search: the reduced report, the settings for this call, candidate selection, the
    slots linked by circumstance and, per identifier of the report, the slots that carry it."""

    probe: _Probe
    tuned: _Tuned
    ranking: _Ranking
    linked: set[int]
    holders: list[list[int]]


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
        for group in _frequency_groups(scoring.nationality, scoring.sex):
            self._profiles_of[group] += step
            for key in keys:
                self._sound_count[(group, key)] += step

    def _bits(self, group: str, tuned: _Tuned) -> Callable[[str], float]:
        """Points for a name in common with a profile of this frequency group (a nationality, or a
        nationality and sex: `frequency_group`): -log2 of the name's share there."""
        frequency = tuned.settings.name_frequency
        group = group or "*"
        profiles = self._profiles_of[group]
        prior = frequency.prior_weight * frequency.prior_share
        cache: dict[str, float] = {}

        def bits(code: str) -> float:
            if code not in cache:
                # Two names counted together ("a+b") are smoothed towards the share of two independent
                # names, may earn up to two names' worth, and do not count the profile being compared.
                pair = "+" in code
                expected = frequency.prior_weight * frequency.prior_share**2 if pair else prior
                seen = max(0, self._sound_count[(group, code)] - 1) if pair else self._sound_count[(group, code)]
                share = (seen + expected) / (profiles + frequency.prior_weight)
                most = 2 * frequency.max_points if pair else frequency.max_points
                cache[code] = min(most, max(frequency.min_points, -math.log2(share)))
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
        ranking = self._ranked(probe, tuned, tuned.settings.blocking.max_candidates)
        search = _Search(probe, tuned, ranking, linked, holders)
        scored = self._score(search)
        link_lines = [link.detail for link in found_links]
        if not scored:
            return MatchResult(decision=Decision.NO_MATCH, links=found_links, explanation=link_lines)
        best = scored[0]
        score = round(_sigmoid(best.points, tuned.settings), 3)
        decision = _decide(score, tuned.settings)
        if decision == Decision.NO_MATCH:
            return MatchResult(decision=decision, score=score, links=found_links, explanation=link_lines)
        case = self._case(best, scored, search)
        verdict = rules.decide(case, rules.Verdict(decision, case.profile_id, tuple(self._explain(best, probe, decision, score))))
        if verdict.profile_id != case.profile_id and verdict.profile_id is not None and case.linked_profile is not None:
            score = case.linked_profile[1]
        return MatchResult(
            decision=verdict.decision,
            profile_id=verdict.profile_id,
            score=round(score, 3),
            explanation=_headline(verdict, case.profile_id) + link_lines,
            links=found_links,
            alternatives=list(verdict.alternatives),
        )

    def _score(self, search: _Search) -> list[_Evidence]:
        """Every candidate scored, best first: the ranked, the linked and every holder of an identifier."""
        probe, tuned, ranking, linked, holders = search.probe, search.tuned, search.ranking, search.linked, search.holders
        shared: dict[int, list[str]] = {}
        for (_, _, written), held in zip(probe.identifiers, holders, strict=True):
            for slot in held:
                shared.setdefault(slot, []).append(written)
        scorer = _Scorer(self, probe, tuned)
        slots = set(ranking.slots) | linked | set(shared)
        scored = [scorer.score(slot, slot in linked, shared.get(slot, [])) for slot in slots]
        if tuned.unique and any(scheme in tuned.unique for scheme, _, _ in probe.identifiers):
            # Only the leaders are opened to look for a conflicting Home Office / NRM reference.
            scored.sort(key=lambda e: -e.points)
            for evidence in scored[:5]:
                self._identifier_conflicts(evidence, probe, tuned)
        scored.sort(key=lambda e: (-e.points, self._ids[e.slot] or ""))
        return scored

    def _case(self, best: _Evidence, scored: list[_Evidence], search: _Search) -> rules.Case:
        """What the decision rules need to know of the best candidate, as plain values."""
        probe, tuned, ranking, linked, holders = search.probe, search.tuned, search.ranking, search.linked, search.holders

        def score_of(evidence: _Evidence) -> float:
            return _sigmoid(evidence.points, tuned.settings)

        profile_id = self._ids[best.slot]
        assert profile_id is not None
        return rules.Case(
            profile_id=profile_id,
            score=round(score_of(best), 3),
            has_identifier=bool(best.identifiers),
            sole_holder=any(held == [best.slot] for held in holders),
            full_names=best.name.full if best.name is not None else 0,
            family_name_missing=_family_name_missing(best.name, probe, self._record_forms(best.slot)),
            reported_family=probe.family,
            runners=self._runners(scored, best, score_of, tuned),
            unscored=ranking.unscored if ranking.unscored_blocking >= ranking.blocked.get(best.slot, 0.0) else 0,
            linked=best.slot in linked,
            dob_agrees_exactly=best.dob in (dates.EXACT, dates.CLOSE),
            dob_known=bool(best.dob),
            dob_conflicts=best.dob == dates.CONFLICT,
            namesakes=_namesakes(scored, best),
            expected_namesakes=self._expected_namesakes(best),
            linked_profile=self._best_linked(scored, linked, best, score_of),
            possible_at=tuned.settings.thresholds.possible_match,
            chance_agreements=self._chance_agreements(best, probe, tuned),
            max_chance_agreements=tuned.settings.max_chance_agreements,
        )

    def _chance_agreements(self, best: _Evidence, probe: _Probe, tuned: _Tuned) -> float:
        """Profiles of the best's nationality expected to agree with the report as well as the best by
        chance: their number times 2 ** -bits of everything but the nationality (which picked them)."""
        record = self._records[best.slot]
        assert record is not None
        group = record[2][2:] or "*"
        bits = best.points
        if probe.nationality and probe.nationality == group:
            bits -= tuned.settings.weights.nationality_agree
        return float(self._profiles_of[group] * 2.0 ** -max(0.0, bits))

    def _expected_namesakes(self, best: _Evidence) -> float:
        """Profiles of the best's nationality times the share its name's bits say: 2 ** -bits. All of
        the nationality, though the bits may be those among its sex: counted within the sex, the rule
        'approximate date' let through matches that precision at match could not afford (10k crowd,
        seed 41: 0.987 -> 0.976), so the count stays the conservative one."""
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

    def _identifiers(self, slot: int) -> list[Identifier]:
        """The stored profile's identifiers, read from its plain JSON (validated when it was stored):
        a full model validation per candidate would cost more than scoring it."""
        return [Identifier.model_construct(**written) for written in self._written(slot).get("identifiers", [])]

    def _identifier_holders(self, probe: _Probe) -> list[list[int]]:
        """For each of the report's identifiers, the slots that carry it (checked on the profile)."""
        return [
            [
                slot
                for slot in self._posting(_identifier_key(scheme, value))
                if any(i.key() == (scheme, value) for i in self._identifiers(slot))
            ]
            for scheme, value, _ in probe.identifiers
        ]

    def _identifier_conflicts(self, evidence: _Evidence, probe: _Probe, tuned: _Tuned) -> None:
        ours = {(s, v) for s, v, _ in probe.identifiers}
        schemes = {s for s, _ in ours} & tuned.unique
        for identifier in self._identifiers(evidence.slot):
            scheme, value = identifier.key()
            if scheme in schemes and (scheme, value) not in ours:
                evidence.points -= tuned.settings.weights.identifier_conflict
                evidence.against += (f"a different {identifier.scheme} identifier",)

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
        found, singles = self._key_groups(probe, tuned)
        hits: defaultdict[int, float] = defaultdict(float)
        budget = blocking.max_scanned
        for ordered in (found, singles):
            if ordered is singles and len(hits) >= blocking.max_candidates:
                break
            budget = _read_groups(ordered, hits, budget)
        if probe.dob is not None and probe.dob.exact and hits:
            same_day = self._posting(_dob_key(probe.dob.value))
            if len(same_day) <= blocking.max_block_size:
                for slot in same_day:
                    if slot in hits:
                        hits[slot] += PAIR
        return _ranking(hits, limit)

    def _key_groups(self, probe: _Probe, tuned: _Tuned) -> tuple[list[_KeyGroup], list[_KeyGroup]]:
        """The report's blocking keys with their postings, grouped by what they are without the year
        (a candidate counts each at its best year only), smallest first: pairs and initials, then
        single sounds. Keys too common to select on (over blocking.max_block_size) are left out."""
        max_block = tuned.settings.blocking.max_block_size
        keys = _identity_keys(
            probe.tokens + probe.joined, _probe_years(probe.dob, probe.reported), _sexes(probe.sex, probing=True)
        )
        center = date.fromordinal(probe.dob.value).year if probe.dob is not None else None
        groups: dict[int, list[tuple[float, Sequence[int]]]] = {}
        single_whats: set[int] = set()
        postings = self._postings
        factors: dict[int, float] = {}  # year of birth -> how much a key of that year counts
        for key, (kind, year, what) in keys.items():
            stored = postings.get(key)  # most of a report's keys are filed under no profile: looked up inline
            if stored is None:
                continue
            posting: Sequence[int]
            if isinstance(stored, int):
                posting = (stored,)
            elif len(stored) > 4 * max_block:  # packed int32: too common to select on
                continue
            else:
                posting = memoryview(stored).cast("i")
            factor = factors.get(year)
            if factor is None:
                factor = factors[year] = (
                    1.0 if center is None else 0.5 if year == 0 else _YEAR_FACTOR.get(abs(year - center), 0.25)
                )
            group = groups.get(what)
            if group is None:
                groups[what] = [(kind * factor, posting)]
            else:
                group.append((kind * factor, posting))
            if kind == SINGLE:
                single_whats.add(what)
        found = sorted((sum(len(p) for _, p in g), what, g) for what, g in groups.items() if what not in single_whats)
        singles = sorted((sum(len(p) for _, p in g), what, g) for what, g in groups.items() if what in single_whats)
        return found, singles

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

    def _links(self, probe: _Probe, tuned: _Tuned) -> list[ProfileLink]:
        return find_links(self, probe, tuned)


__all__ = ["Form", "ProfileIndex", "name_forms"]
