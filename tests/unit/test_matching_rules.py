"""The decision rules (alerts.matching.rules): an ordered, named list; each says why in its own words."""

from __future__ import annotations

from dataclasses import replace

from alerts.matching.rules import RULES, Case, Runner, Verdict, decide
from alerts.model import Decision

CASE = Case(
    profile_id="prof-a",
    score=0.97,
    has_identifier=False,
    sole_holder=False,
    full_names=2,
    family_name_missing=False,
    reported_family="Hoxha",
    runners=(),
    unscored=0,
    linked=False,
    dob_agrees_exactly=True,
    dob_known=True,
    dob_conflicts=False,
    namesakes=0,
    expected_namesakes=0.0,
    linked_profile=None,
    possible_at=0.5,
)
MATCH = Verdict(Decision.MATCH, "prof-a", ("matched profile prof-a (score 0.97)",))


def test_the_rules_are_a_named_ordered_list() -> None:
    names = [name for name, _ in RULES]
    assert names == sorted(set(names), key=names.index)  # unique
    assert names[0] == "almost as close" and names[-1] == "link not overridden"


def test_a_clear_case_stays_a_match() -> None:
    assert decide(CASE, MATCH) == MATCH


def test_twins_in_the_records_are_said_to_share_name_and_date_of_birth() -> None:
    case = replace(CASE, runners=(Runner("prof-b", 0.97, same_name_and_dob=True),))
    verdict = decide(case, MATCH)
    assert verdict.decision == Decision.POSSIBLE_MATCH and verdict.alternatives == ("prof-b",)
    assert "two profiles share this name and date of birth (prof-a, prof-b): a person must confirm which" in verdict.explanation


def test_a_sole_holder_of_a_reported_identifier_is_not_demoted_for_unscored_namesakes() -> None:
    crowded = replace(CASE, unscored=40)
    assert decide(crowded, MATCH).decision == Decision.POSSIBLE_MATCH
    assert decide(replace(crowded, has_identifier=True, sole_holder=True), MATCH).decision == Decision.MATCH


def test_an_estimate_only_date_among_namesakes_is_for_a_person_and_says_why() -> None:
    case = replace(CASE, dob_agrees_exactly=False, expected_namesakes=2.4)
    verdict = decide(case, MATCH)
    assert verdict.decision == Decision.POSSIBLE_MATCH
    assert any("agrees only approximately" in line for line in verdict.explanation)
    assert decide(replace(case, expected_namesakes=0.01), MATCH).decision == Decision.MATCH  # no namesake to expect
    undated = decide(replace(case, dob_known=False), MATCH)
    assert any("no date of birth to tell namesakes apart" in line for line in undated.explanation)


def test_a_conflicting_date_makes_a_name_only_possible_no_match() -> None:
    possible = Verdict(Decision.POSSIBLE_MATCH, "prof-a")
    assert decide(replace(CASE, dob_conflicts=True, dob_agrees_exactly=False), possible).decision == Decision.NO_MATCH


def test_a_link_is_not_overridden_by_a_weaker_identity_claim() -> None:
    possible = Verdict(Decision.POSSIBLE_MATCH, "prof-a", ("possibly matched profile prof-a (score 0.7)",))
    case = replace(CASE, linked_profile=("prof-linked", 0.62))
    verdict = decide(case, possible)
    assert (verdict.decision, verdict.profile_id) == (Decision.POSSIBLE_MATCH, "prof-linked")
    assert verdict.alternatives == ("prof-a",)
    # a full match on identity is stronger than a circumstantial link: kept
    assert decide(case, MATCH).profile_id == "prof-a"


POSSIBLE = Verdict(Decision.POSSIBLE_MATCH, "prof-a", ("possibly matched profile prof-a (score 0.70)",))


def test_a_possible_match_that_chance_namesakes_explain_names_no_child() -> None:
    """Twenty profiles expected to agree as well by chance and one that does: no match."""
    crowded = replace(CASE, score=0.7, dob_agrees_exactly=False, chance_agreements=20.0, max_chance_agreements=4.0)
    assert decide(crowded, POSSIBLE) == Verdict(Decision.NO_MATCH, None, ())
    assert decide(replace(crowded, chance_agreements=0.5), POSSIBLE).decision == Decision.POSSIBLE_MATCH


def test_chance_namesakes_are_weighed_against_the_profiles_that_agree_and_never_against_evidence_beyond_identity() -> None:
    crowded = replace(CASE, score=0.7, dob_agrees_exactly=False, chance_agreements=6.0, max_chance_agreements=4.0)
    assert decide(crowded, POSSIBLE).decision == Decision.NO_MATCH
    # two profiles almost as close: three agree where six are expected — one of them may well be the child
    close = tuple(Runner(f"prof-{c}", 0.68, same_name_and_dob=False) for c in "bc")
    kept = decide(replace(crowded, runners=close), POSSIBLE)
    assert kept.decision == Decision.POSSIBLE_MATCH and kept.alternatives == ("prof-b", "prof-c")
    assert decide(replace(crowded, linked=True), POSSIBLE).decision == Decision.POSSIBLE_MATCH
    assert decide(replace(crowded, has_identifier=True), POSSIBLE).decision == Decision.POSSIBLE_MATCH


def test_a_possible_match_kept_on_identity_alone_says_how_many_namesakes_chance_would_give() -> None:
    # Kept (one in two expected by chance, one agrees), and the explanation says why it is only possible.
    kept = decide(replace(CASE, score=0.7, dob_agrees_exactly=False, chance_agreements=0.5), POSSIBLE)
    assert kept.decision == Decision.POSSIBLE_MATCH
    assert (
        kept.explanation[-1]
        == "identity alone: about 0.5 profile(s) would agree this well by chance and 1 do: a person must confirm"
    )
    # Names no name (the explanation may be shown in places the report's names are not).
    assert "Hoxha" not in kept.explanation[-1]
    # Nothing to say when chance explains nothing, or when an identifier says more than identity.
    assert decide(replace(CASE, score=0.7, chance_agreements=0.001), POSSIBLE) == POSSIBLE
    assert decide(replace(CASE, score=0.7, chance_agreements=0.5, has_identifier=True), POSSIBLE) == POSSIBLE
