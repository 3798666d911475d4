"""The decision rules: an ordered, named list applied to the best candidate after scoring.

The score gives a first decision (risk.yaml thresholds); each rule may then make a match only
possible — a person confirms — or move the claim, and says why in words an officer can act on. The
explanation is an output for officers and operators, never a log line: it quotes names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from alerts.model import Decision

MAX_LISTED = 8
# A name this likely to be shared in the index (expected other children of that name): an estimate
# cannot tell them apart. One in ten: a name rare enough that a namesake is not to be expected.
EXPECTED_NAMESAKES = 0.1  # alternatives named one by one in the explanation; the rest are counted
# Profiles expected to agree by chance worth telling the officer about when a possible match is kept.
CHANCE_WORTH_SAYING = 0.05


@dataclass(frozen=True)
class Runner:
    """Another candidate nearly as close as the best."""

    profile_id: str
    score: float
    same_name_and_dob: bool  # the very same recorded name and date of birth as the best


@dataclass(frozen=True)
class Case:
    """What the rules know of one report's best candidate (plain values; no index)."""

    profile_id: str
    score: float
    has_identifier: bool  # the best shares one of the report's identifiers
    sole_holder: bool  # ...and is the only profile carrying it (every holder was scored)
    full_names: int  # name tokens paired in full (not initials)
    family_name_missing: bool
    reported_family: str | None  # as written in the report, for the explanation
    runners: tuple[Runner, ...]
    unscored: int  # profiles blocked as well as the best but left unscored
    linked: bool  # the report's phone, vehicle or companion is on the best itself
    dob_agrees_exactly: bool  # two exact dates the same (or day and month swapped, or a year typo)
    dob_known: bool  # both the report and the profile give a date of birth
    dob_conflicts: bool  # the dates of birth are too far apart for one child
    namesakes: int  # other scored profiles whose names agree as well as the best's, whatever their date
    expected_namesakes: float  # profiles of the nationality x the name's share among them: how many to expect
    linked_profile: tuple[str, float] | None  # the best-scoring linked profile (id, score), when not the best
    possible_at: float  # the possible-match threshold
    chance_agreements: float = 0.0  # profiles expected to agree with the report as well as the best by chance
    max_chance_agreements: float = 6.0  # ...this many times those that do: a claim on identity alone names no child


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    profile_id: str | None
    explanation: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = field(default_factory=tuple)


def _demote(verdict: Verdict, *lines: str) -> Verdict:
    return replace(verdict, decision=Decision.POSSIBLE_MATCH, explanation=verdict.explanation + lines)


def almost_as_close(case: Case, verdict: Verdict) -> Verdict:
    """Profiles nearly as close make it possible, not a match; twins in the records are said as such."""
    if not case.runners:
        return verdict
    twins = [r.profile_id for r in case.runners if r.same_name_and_dob]
    others = [r for r in case.runners if not r.same_name_and_dob]
    lines: list[str] = []
    if twins:
        named = ", ".join([case.profile_id, *twins[:MAX_LISTED]]) + (
            f" and {len(twins) - MAX_LISTED} more" if len(twins) > MAX_LISTED else ""
        )
        count = "two profiles" if len(twins) == 1 else f"{len(twins) + 1} profiles"
        lines.append(f"{count} share this name and date of birth ({named}): a person must confirm which")
    for runner in others[:MAX_LISTED]:
        lines.append(f"profile {runner.profile_id} is almost as close (score {runner.score:.2f}): a person must confirm which")
    if len(others) > MAX_LISTED:
        lines.append(f"{len(others) - MAX_LISTED} more profiles are almost as close")
    alternatives = tuple(r.profile_id for r in case.runners)
    verdict = replace(verdict, alternatives=alternatives)
    return (
        _demote(verdict, *lines)
        if verdict.decision == Decision.MATCH
        else replace(verdict, explanation=verdict.explanation + tuple(lines))
    )


def first_name_and_initial(case: Case, verdict: Verdict) -> Verdict:
    """A first name and an initial, however well the rest agrees, is for a person to confirm."""
    if verdict.decision == Decision.MATCH and not case.has_identifier and case.full_names < 2:
        return _demote(verdict, "only one name agrees in full: a person must confirm")
    return verdict


def family_name_missing(case: Case, verdict: Verdict) -> Verdict:
    """Given names alone, with a family name the profile does not have, are for a person to confirm."""
    if verdict.decision != Decision.NO_MATCH and not case.has_identifier and case.family_name_missing:
        return _demote(verdict, f"the reported family name '{case.reported_family}' is not on the profile: a person must confirm")
    return verdict


def approximate_date(case: Case, verdict: Verdict) -> Verdict:
    """Where the index holds namesakes, names with a date that agrees only as an estimate (or not at
    all) cannot tell the child from one born the same year: for a person to confirm, unless an
    identifier or a link says more."""
    if (
        verdict.decision == Decision.MATCH
        and (case.namesakes or case.expected_namesakes >= EXPECTED_NAMESAKES)
        and not (case.has_identifier or case.linked or case.dob_agrees_exactly)
    ):
        why = (
            "the date of birth agrees only approximately: a namesake born the same year could be the one"
            if case.dob_known
            else "there is no date of birth to tell namesakes apart"
        )
        return _demote(verdict, f"{why}; a person must confirm")
    return verdict


def date_conflicts(case: Case, verdict: Verdict) -> Verdict:
    """A namesake whose date of birth is too far from the report's is not a possible match on names
    alone: among many profiles a name in common is expected (only an identifier or a link says more)."""
    if verdict.decision == Decision.POSSIBLE_MATCH and case.dob_conflicts and not (case.has_identifier or case.linked):
        return Verdict(Decision.NO_MATCH, None, ())
    return verdict


def chance_agreement(case: Case, verdict: Verdict) -> Verdict:
    """A possible match on identity alone names no child when far more profiles are expected to agree
    with the report as well by chance (the index's namesakes times the odds of such a date and sex)
    than do. The profiles that agree as well — the best and those almost as close — number k; by
    chance E are expected; were the child among them there would be one more than chance gives, so
    k / E is the likelihood ratio of 'one of these is the child' against 'no profile' (a Poisson
    count): below 1 / max_chance_agreements it is no match. Fellegi-Sunter with the index's size as
    the prior: the same evidence that names a child among 300 profiles is a namesake among 100,000."""
    if verdict.decision != Decision.POSSIBLE_MATCH or case.has_identifier or case.linked:
        return verdict
    agree = 1 + len(case.runners)
    if case.chance_agreements / agree >= case.max_chance_agreements:
        return Verdict(Decision.NO_MATCH, None, ())
    if case.chance_agreements >= CHANCE_WORTH_SAYING:
        # Kept, and why it is only possible: the evidence is identity alone, and namesakes could give it.
        return replace(
            verdict,
            explanation=(
                *verdict.explanation,
                f"identity alone: about {case.chance_agreements:.1f} profile(s) would agree this well by chance"
                f" and {agree} do: a person must confirm",
            ),
        )
    return verdict


def unscored_namesakes(case: Case, verdict: Verdict) -> Verdict:
    """Profiles blocked as well as the best were left unscored: it cannot be called the only one —
    unless it alone carries an identifier the report gives (every holder of one is scored)."""
    if verdict.decision == Decision.MATCH and case.unscored and not case.sole_holder:
        return _demote(
            verdict,
            f"{case.unscored} more profile(s) share as much of this name and year of birth than were compared: a person must confirm",
        )
    return verdict


def link_not_overridden(case: Case, verdict: Verdict) -> Verdict:
    """A phone, vehicle or companion recorded on a profile is not overridden by a weaker (possible)
    identity claim on another profile: the linked profile is named, the other listed as an alternative."""
    if verdict.decision != Decision.POSSIBLE_MATCH or case.linked or case.has_identifier or case.linked_profile is None:
        return verdict
    linked_id, linked_score = case.linked_profile
    note = f"the report's circumstances link it to profile {linked_id}; the possible identity match on profile {case.profile_id} is listed as an alternative"
    alternatives = tuple(a for a in (case.profile_id, *verdict.alternatives) if a != linked_id)
    if linked_score >= case.possible_at:
        return Verdict(
            Decision.POSSIBLE_MATCH,
            linked_id,
            (f"possibly matched profile {linked_id} (score {linked_score:.2f})", note),
            alternatives,
        )
    return Verdict(Decision.NO_MATCH, None, (note,), alternatives)


Rule = Callable[[Case, Verdict], Verdict]
RULES: tuple[tuple[str, Rule], ...] = (
    ("almost as close", almost_as_close),
    ("first name and initial", first_name_and_initial),
    ("family name missing", family_name_missing),
    ("approximate date", approximate_date),
    ("unscored namesakes", unscored_namesakes),
    ("date conflicts", date_conflicts),
    ("chance agreement", chance_agreement),
    ("link not overridden", link_not_overridden),
)


def decide(case: Case, verdict: Verdict) -> Verdict:
    for _, rule in RULES:
        verdict = rule(case, verdict)
    return verdict
