"""routing.yaml: which agencies a match or possible match reaches, and the checks on its rules, its
police forces and its manual-check contacts against agencies.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from alerts.config.agencies import Agency, AgencyKind
from alerts.config.base import AgencyId, ChannelName, Names, Near, Schema, channels_by_default
from alerts.errors import ConfigError
from alerts.model import Priority

RoutedDecision = Literal["match", "possible_match"]
# Only these may be told of a possible match: a person there confirms or rules it out first.
POSSIBLE_MATCH_KINDS: tuple[AgencyKind, ...] = ("emergency_duty_team",)


class RuleMatch(Schema):
    """Every listed condition must hold; an omitted condition matches anything — except `decision`,
    which is [match] when omitted: a possible match reaches only rules that list possible_match.
    Names compare without regard to case or repeated spaces."""

    decision: Annotated[list[RoutedDecision], Field(min_length=1)] = ["match"]
    local_authority: Names | None = Field(default=None, description="the placement's or the responsible authority")
    placement_local_authority: Names | None = None
    responsible_local_authority: Names | None = Field(default=None, description="from the child's risk profile")
    police_force: Names | None = Field(
        default=None, description="the profile's force, or the force area of either local authority (police_force_areas)"
    )
    priority: Annotated[list[Priority], Field(min_length=1)] | None = None
    indicators: Names | None = Field(default=None, description="any of these among the profile's indicators")
    near: Annotated[list[Near], Field(min_length=1)] | None = Field(
        default=None, description="any of these in the report's circumstances.near"
    )
    linked_by_circumstance: bool | None = Field(
        default=None, description="the child has no profile of their own and is linked to one by a vehicle, phone or companion"
    )


class Rule(Schema):
    name: Annotated[str, StringConstraints(min_length=1)]
    match: RuleMatch = RuleMatch()
    notify: list[AgencyId] = []
    notify_police_force: bool = Field(
        default=False,
        description="also the missing-person desk (police_forces) of each force of the child: the placement's area, "
        "the responsible authority's area and the profile's force",
    )
    social_worker: bool = False
    channels: Annotated[list[ChannelName], Field(min_length=1)] = Field(default_factory=channels_by_default)


class ManualCheck(Schema):
    """Who checks an accepted report by hand when it could not be processed automatically (fail open):
    the placement's emergency duty team and its police force's missing-person desk (`police_forces`); `otherwise` when
    neither is known for the placement's local authority (and, when that is empty, every police and
    emergency duty team agency)."""

    emergency_duty_teams: dict[str, AgencyId] = Field(default={}, description="local authority -> agency")
    otherwise: list[AgencyId] = []


class Routing(Schema):
    rules: Annotated[list[Rule], Field(min_length=1)]
    police_force_areas: dict[str, Names] = Field(default={}, description="police force -> the local authorities in its area")
    police_forces: dict[str, AgencyId] = Field(
        default={}, description="police force -> the agency that is its missing-person desk (for notify_police_force)"
    )
    manual_check: ManualCheck = ManualCheck()
    fallback: dict[ChannelName, list[ChannelName]] = Field(
        default={},
        description="channel -> the channels on which the same person is tried, in order, when they cannot be "
        "reached on it (e.g. sms: [email])",
    )

    @model_validator(mode="after")
    def _no_fallback_to_itself(self) -> Routing:
        for channel, others in self.fallback.items():
            if channel in others:
                raise ValueError(f"fallback.{channel} lists {channel} itself: remove it (the next on call is tried anyway)")
        return self


def possible_match_allowed(rule: Rule, kind: AgencyKind) -> bool:
    """Whether `rule` may tell an agency of `kind` of a possible match: emergency duty teams always; the
    police only for high priority or a child linked by circumstance, with wording that says "possible"."""
    if kind in POSSIBLE_MATCH_KINDS:
        return True
    police_case = rule.match.priority == [Priority.HIGH] or rule.match.linked_by_circumstance is True
    return kind == "police" and police_case


_POSSIBLE_MATCH_FIX = (
    "possible matches go to emergency duty teams and the social worker, for a person to confirm, and to "
    "the police only with match.priority: [high] or match.linked_by_circumstance: true: "
    "narrow the rule, or move the agency to a rule without possible_match in match.decision"
)


def check_routing(path: str, routing: Routing, agencies: dict[str, Agency] | None) -> Iterator[ConfigError]:
    """The rules, the police force areas and desks, and the manual-check contacts; the agencies they
    name are checked against agencies.yaml when it is valid (`agencies` None: not checked)."""
    for i, rule in enumerate(routing.rules):
        yield from _check_rule(path, f"rules[{i}]", rule, agencies)
    yield from _check_force_areas(path, routing)
    if agencies is not None:
        yield from _check_police_forces(path, routing, agencies)
        yield from _check_manual_check(path, routing.manual_check, agencies)


def _check_rule(path: str, at: str, rule: Rule, agencies: dict[str, Agency] | None) -> Iterator[ConfigError]:
    possible = "possible_match" in rule.match.decision
    for j, agency_id in enumerate(rule.notify if agencies is not None else []):
        agency = agencies.get(agency_id) if agencies is not None else None
        if agency is None:
            known = ", ".join(sorted(agencies or {})) or "none defined"
            yield ConfigError(
                path,
                f"{at}.notify[{j}]",
                f"unknown agency '{agency_id}'",
                f"define it in agencies.yaml or use a known id ({known})",
            )
        elif possible and not possible_match_allowed(rule, agency.kind):
            problem = f"rule '{rule.name}' would tell '{agency_id}' ({agency.kind}) of a possible match"
            yield ConfigError(path, f"{at}.notify[{j}]", problem, _POSSIBLE_MATCH_FIX)
    if rule.notify_police_force and possible and not possible_match_allowed(rule, "police"):
        yield ConfigError(
            path,
            f"{at}.notify_police_force",
            f"rule '{rule.name}' would tell the police of every possible match",
            "give it match.priority: [high] or match.linked_by_circumstance: true",
        )
    if not rule.notify and not rule.social_worker and not rule.notify_police_force:
        yield ConfigError(
            path, at, f"rule '{rule.name}' notifies nobody", "list agencies under notify: or set social_worker: true"
        )


def _check_force_areas(path: str, routing: Routing) -> Iterator[ConfigError]:
    area_of: dict[str, str] = {}
    for force, authorities in routing.police_force_areas.items():
        for j, authority in enumerate(authorities):
            other = area_of.setdefault(authority.casefold(), force)
            if other != force:
                yield ConfigError(
                    path,
                    f"police_force_areas.{force}[{j}]",
                    f"'{authority}' is already in the area of '{other}'",
                    "list each local authority under one police force only",
                )


def _check_police_forces(path: str, routing: Routing, agencies: dict[str, Agency]) -> Iterator[ConfigError]:
    for force, agency_id in routing.police_forces.items():
        key = f"police_forces.{force}"
        agency = agencies.get(agency_id)
        if agency is None:
            yield ConfigError(path, key, f"unknown agency '{agency_id}'", "define it in agencies.yaml or use a known id")
            continue
        if agency.kind != "police":
            yield ConfigError(
                path,
                key,
                f"agency '{agency_id}' is of kind {agency.kind}, not police",
                "name the force's missing-person desk (a police agency)",
            )
        if force not in routing.police_force_areas:
            yield ConfigError(path, key, "not a force of police_force_areas", "add its area there")


def _check_manual_check(path: str, manual: ManualCheck, agencies: dict[str, Agency]) -> Iterator[ConfigError]:
    wanted: list[tuple[str, str, str | None]] = [
        *((f"manual_check.emergency_duty_teams.{la}", a, "emergency_duty_team") for la, a in manual.emergency_duty_teams.items()),
        *((f"manual_check.otherwise[{i}]", a, None) for i, a in enumerate(manual.otherwise)),
    ]
    for key, agency_id, kind in wanted:
        agency = agencies.get(agency_id)
        if agency is None:
            yield ConfigError(path, key, f"unknown agency '{agency_id}'", "define it in agencies.yaml or correct the id")
        elif kind is not None and agency.kind != kind:
            yield ConfigError(path, key, f"agency '{agency_id}' is of kind {agency.kind}, not {kind}", f"name a {kind} agency")
