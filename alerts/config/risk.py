"""risk.yaml: how reports are matched to profiles (with defaults: the values shipped in config/risk.yaml,
so `ProfileIndex()` works on its own) and graded (rules with no defaults: they live in the file, not in
code), and the checks on both."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, StringConstraints

from alerts.config.base import ClockTime, Near, Schema, unknown_time_zone
from alerts.config.indicators import Vocabulary
from alerts.errors import ConfigError
from alerts.model import Priority

Points = Annotated[float, Field(ge=0)]
RiskWords = Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]], Field(min_length=1)]


class MatchThresholds(Schema):
    """On the match score (0..1): at or above `match` a full alert; at or above `possible_match` a
    person confirms first; below, no match."""

    match: Annotated[float, Field(gt=0, le=1)] = 0.9
    possible_match: Annotated[float, Field(gt=0, le=1)] = 0.5


class MatchWeights(Schema):
    """Points of evidence. Agreement adds; the `*_conflict` and `*_unmatched_*` weights are subtracted."""

    identifier: Points = 20.0
    identifier_conflict: Points = 4.0
    initial: Points = 2.0
    main_name: Points = Field(default=0.5, description="the report's name matched the profile's name, not an alias")
    name_unmatched_reported: Points = 3.0
    name_unmatched_profile: Points = 0.5
    name_conflict: Points = Field(
        default=4.0, description="a name left unpaired on each side: a different name, not a dropped middle name"
    )
    name_penalty_cap_with_identifier: Points = Field(
        default=3.0, description="with a shared identifier, names cost at most this much however many fail to pair"
    )
    dob_exact: Points = 8.0
    dob_close: Points = Field(default=3.0, description="two exact dates with day and month swapped, or a year apart to the day")
    dob_near: Points = Field(default=1.5, description="two exact dates within dob.exact_days")
    dob_consistent: Points = Field(
        default=2.5,
        description="the most an estimate or range earns (log2 of its likelihood ratio, capped); never less than dob_near",
    )
    dob_within_tolerance: Points = Field(
        default=0.0, description="unused since the likelihood-ratio date model; accepted so older risk.yaml files load"
    )
    dob_conflict: Points = 5.0
    sex_agree: Points = 1.0
    sex_conflict: Points = 5.0
    nationality_agree: Points = 1.5
    nationality_conflict: Points = 2.0
    linked_same_profile: Points = 1.5


class DobTolerance(Schema):
    """How far apart two dates of birth may be and still count for the same child."""

    exact_days: Annotated[int, Field(ge=0, le=366)] = Field(
        default=31, description="two exact dates this close (or with day and month swapped) count as close"
    )
    estimated_margin_days: Annotated[int, Field(ge=0, le=3 * 366)] = Field(
        default=366, description="unused since the likelihood-ratio date model; accepted so older risk.yaml files load"
    )
    tolerance_days: Annotated[int, Field(ge=0, le=5 * 366)] = Field(
        default=366, description="unused since the likelihood-ratio date model; accepted so older risk.yaml files load"
    )
    estimate_right_year: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.6, description="share of age-assessed estimates that name the right year; the rest are a year out either way"
    )
    population_span_days: Annotated[int, Field(ge=366, le=40 * 366)] = Field(
        default=2922, description="the span birthdays of profiled children are spread over (ages 10-17): two at random"
    )


class NameFrequency(Schema):
    """A name token in common is worth the bits of surprise of its sound among the profiles of the same
    nationality (-log2 of its share: Nguyen little, a rare name much), smoothed towards `prior_share`
    while an index is small, and kept within min_points..max_points."""

    prior_share: Annotated[float, Field(gt=0, lt=1)] = 0.05
    prior_weight: Annotated[float, Field(ge=0)] = 20.0
    min_points: Points = 1.0
    max_points: Points = 6.0


class Blocking(Schema):
    """Candidate selection: never a scan of every profile."""

    max_block_size: Annotated[int, Field(ge=10, le=1_000_000)] = Field(
        default=5000, description="a blocking key shared by more profiles than this is too common to select on"
    )
    max_candidates: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=40, description="how many of the best-blocked candidates are scored in full"
    )
    max_scanned: Annotated[int, Field(ge=100, le=10_000_000)] = Field(
        default=2000, description="slots read from blocking keys per report, the most selective keys first"
    )


class Matching(Schema):
    thresholds: MatchThresholds = MatchThresholds()
    score_midpoint: float = Field(default=7.0, description="points at which the score is 0.5")
    score_spread: Annotated[float, Field(gt=0)] = Field(default=2.5, description="points that move the score by one logit")
    min_token_similarity: Annotated[float, Field(ge=0.5, le=1)] = 0.8
    ambiguity_margin: Points = Field(
        default=2.0, description="a match is only possible when another profile scores within this many points"
    )
    max_chance_agreements: Annotated[float, Field(gt=0)] = Field(
        default=6.0,
        description="a possible match on identity alone is no match when the profiles expected to agree as well by chance"
        " are this many times those that do",
    )
    weights: MatchWeights = MatchWeights()
    name_frequency: NameFrequency = NameFrequency()
    dob: DobTolerance = DobTolerance()
    blocking: Blocking = Blocking()
    unique_schemes: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default=["home_office", "nrm"], description="identifier schemes that belong to one person: different values count against"
    )


class Links(Schema):
    """Circumstantial links: a vehicle, phone or associate in the report recorded against any profile."""

    open_incident_at: Priority = Field(
        default=Priority.MEDIUM,
        description="open an incident for a child with no profile of their own when links grade the report at least this",
    )
    max_links: Annotated[int, Field(ge=1, le=100)] = 10


class GradeTime(Schema):
    """From `start` to `end` in the grading time zone; an end at or before the start runs past midnight."""

    start: ClockTime
    end: ClockTime


class GradeWhen(Schema):
    """Every listed condition must hold; at least one must be listed."""

    has_profile: bool | None = Field(default=None, description="the report matched (or possibly matched) a profile")
    decision: Annotated[list[Literal["match", "possible_match", "no_match"]], Field(min_length=1)] | None = None
    profile_risk: Annotated[list[Priority], Field(min_length=1)] | None = None
    indicators: RiskWords | None = Field(
        default=None, description="any of these among the profile's indicators (case-insensitive)"
    )
    age_under: Annotated[int, Field(ge=1, le=26)] | None = None
    age_at_least: Annotated[int, Field(ge=0, le=26)] | None = None
    local_time: GradeTime | None = Field(default=None, description="last seen between these times")
    accompanied_by: RiskWords | None = Field(
        default=None,
        description="any of these phrases in circumstances.accompanied_by, as whole words and not negated "
        "(alerts/phrases.py: 'not a stranger' is not 'stranger')",
    )
    vehicle: bool | None = Field(default=None, description="a vehicle is mentioned in the report")
    near: Annotated[list[Near], Field(min_length=1)] | None = None
    hours_since_placement_under: Annotated[float, Field(gt=0, le=24 * 365)] | None = Field(
        default=None, description="last seen within this many hours of placement.placed_at"
    )
    previous_episodes_at_least: Annotated[int, Field(ge=1)] | None = None
    linked_risk: Annotated[list[Priority], Field(min_length=1)] | None = Field(
        default=None, description="a circumstantial link to a profile of one of these risk levels"
    )


class GradeRule(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    when: GradeWhen
    points: Annotated[int, Field(ge=0, le=100)] = 0
    at_least: Priority | None = Field(default=None, description="the priority is at least this when the rule holds")
    reason: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="listed with the incident; may use {placeholders}"
    )


class GradeLevels(Schema):
    """Points needed for each priority; fewer than `medium` is low."""

    high: Annotated[int, Field(ge=1)]
    medium: Annotated[int, Field(ge=1)]


class Grading(Schema):
    timezone: str = "Europe/London"
    levels: GradeLevels
    rules: Annotated[list[GradeRule], Field(min_length=1)]
    # indicators.yaml, attached by load_config: the rules' `indicators` name its ids and groups.
    _vocabulary: Vocabulary | None = PrivateAttr(default=None)

    @property
    def vocabulary(self) -> Vocabulary | None:
        return self._vocabulary


class Risk(Schema):
    matching: Matching = Matching()
    links: Links = Links()
    grading: Grading


# Placeholders a rule's reason may use; alerts.grading fills them in.
REASON_FIELDS = (
    "risk",
    "indicators",
    "age",
    "local_time",
    "near",
    "hours_since_placement",
    "episodes",
    "linked",
    "decision",
)


def check_risk(path: str, risk: Risk) -> Iterator[ConfigError]:
    yield from _check_matching(path, risk.matching)
    grading = risk.grading
    if unknown_time_zone(grading.timezone):
        yield ConfigError(
            path, "grading.timezone", f"unknown time zone '{grading.timezone}'", "use an IANA name such as Europe/London"
        )
    if grading.levels.medium >= grading.levels.high:
        yield ConfigError(
            path,
            "grading.levels.medium",
            f"{grading.levels.medium} points is not below high ({grading.levels.high})",
            "give medium fewer points than high",
        )
    names: list[str] = []
    for i, rule in enumerate(grading.rules):
        yield from _check_grade_rule(path, f"grading.rules[{i}]", rule)
        if rule.name in names:
            yield ConfigError(
                path, f"grading.rules[{i}].name", f"rule name '{rule.name}' is used twice", "give each rule its own name"
            )
        names.append(rule.name)


def _check_matching(path: str, matching: Matching) -> Iterator[ConfigError]:
    thresholds = matching.thresholds
    if thresholds.possible_match >= thresholds.match:
        yield ConfigError(
            path,
            "matching.thresholds.possible_match",
            f"{thresholds.possible_match} is not below match ({thresholds.match})",
            "give possible_match a lower score than match",
        )
    frequency = matching.name_frequency
    if frequency.min_points > frequency.max_points:
        yield ConfigError(
            path,
            "matching.name_frequency.min_points",
            f"{frequency.min_points} is above max_points ({frequency.max_points})",
            "give min_points no more than max_points",
        )


def _check_grade_rule(path: str, at: str, rule: GradeRule) -> Iterator[ConfigError]:
    when = rule.when
    if not when.model_dump(exclude_none=True):
        yield ConfigError(path, f"{at}.when", f"rule '{rule.name}' has no condition", "list at least one condition under when:")
    if rule.points == 0 and rule.at_least is None:
        yield ConfigError(path, at, f"rule '{rule.name}' changes nothing", "give it points: or at_least:")
    if when.age_under is not None and when.age_at_least is not None and when.age_at_least >= when.age_under:
        yield ConfigError(path, f"{at}.when.age_at_least", "no age is both at least this and under age_under", "lower it")
    yield from _check_reason(path, f"{at}.reason", rule.reason)


def _check_reason(path: str, key: str, reason: str) -> Iterator[ConfigError]:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(reason) if name is not None]
    except ValueError as exc:
        yield ConfigError(path, key, f"not a valid template ({exc})", "write {{ and }} for literal braces")
        return
    for name in fields:
        if name not in REASON_FIELDS:
            yield ConfigError(
                path, key, f"unknown placeholder {{{name}}}", f"use one of {', '.join('{' + f + '}' for f in REASON_FIELDS)}"
            )
