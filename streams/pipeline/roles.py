"""What one worker process runs: both stages (`all`, the default) or one of them (`triage`, `deliver`).

Under overload one event loop cannot carry triage and delivery together, and faust's single fetcher
feeds every agent of a process: one agent's full buffer stops the reads of all. Split, triage and
delivery each have a process (a core) and a consumer group of their own. Faust's group id is the app
id, so a role's group is its app id: triage keeps the deployment's (`kafka.app_id`), so a switch from
`all` keeps triage's committed offsets and no report is triaged again; deliver's is `<app_id>-deliver`.
Two processes in one group subscribing different topics would break faust's assignor (it assigns
every member the group's topics).

A table keeps its changelog topic whatever the role (`<app_id>-<table>-changelog`, faust's default
name under the deployment's app id), so its state survives a switch. docs/operations.md: worker roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The incident owner's tables, and the deliverer's (streams/pipeline/connection.py TABLES is both).
TRIAGE_TABLES = ("open-incidents", "opening-events", "pending-claims")
DELIVER_TABLES = ("notifications-sent",)
CLIENT_ID_PREFIX = "crucial-worker-"


class Role(StrEnum):
    ALL = "all"
    TRIAGE = "triage"
    DELIVER = "deliver"


@dataclass(frozen=True)
class RolePlan:
    """The parts of the pipeline one role runs."""

    role: Role
    group_suffix: str  # appended to kafka.app_id: the faust app id, so the consumer group
    triage: bool  # the triage agent, the incident owner and its tables
    deliver: bool  # the deliver agent, the deliverer and its table
    profile_index: bool  # follow the risk-profiles topic into the index (matching needs it)
    escalation_timer: bool  # the leader's escalation timer: in one group only
    ingest_views: bool  # the report API, the form and /v1/placements (they produce placement events)

    @property
    def tables(self) -> tuple[str, ...]:
        return (TRIAGE_TABLES if self.triage else ()) + (DELIVER_TABLES if self.deliver else ())

    def app_id(self, base: str) -> str:
        return base + self.group_suffix

    @property
    def client_id(self) -> str:
        """The Kafka client id of the role's consumer, so the broker's description of a group tells
        which role each member runs."""
        return CLIENT_ID_PREFIX + self.role.value


PLANS = {
    Role.ALL: RolePlan(Role.ALL, "", triage=True, deliver=True, profile_index=True, escalation_timer=True, ingest_views=True),
    Role.TRIAGE: RolePlan(
        Role.TRIAGE, "", triage=True, deliver=False, profile_index=True, escalation_timer=True, ingest_views=True
    ),
    Role.DELIVER: RolePlan(
        Role.DELIVER, "-deliver", triage=False, deliver=True, profile_index=False, escalation_timer=False, ingest_views=False
    ),
}


def plan_of(role: str | Role) -> RolePlan:
    try:
        return PLANS[Role(role)]
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown worker role {role!r}: use one of {known}") from None


@dataclass(frozen=True)
class GroupMember:
    """A live member of one of the deployment's consumer groups, as the broker describes it."""

    group: str
    client_id: str
    host: str

    @property
    def role(self) -> Role | None:
        """The role it runs; None for a worker of a version before the client id named it."""
        if not self.client_id.startswith(CLIENT_ID_PREFIX):
            return None
        return {r.value: r for r in Role}.get(self.client_id.removeprefix(CLIENT_ID_PREFIX))


def role_conflicts(plan: RolePlan, members: list[GroupMember]) -> list[str]:
    """Why a worker of `plan` must not join the processes running now (live `members` of the
    deployment's groups), one sentence each:

    - `all` beside a deliver worker: two ledgers race and every notification is sent twice;
    - `all` beside triage (one group): they subscribe different topics, which faust's assignor cannot
      share (it assigns every member the group's topics); and triage beside `all` likewise;
    - deliver beside `all`: sent twice, as above.
    A member of an earlier version (its role unknown) is not judged."""
    clash = {
        Role.ALL: {Role.DELIVER: "every notification would be sent twice", Role.TRIAGE: "they cannot share one group"},
        Role.TRIAGE: {Role.ALL: "they cannot share one group"},
        Role.DELIVER: {Role.ALL: "every notification would be sent twice"},
    }[plan.role]
    return [
        f"{_a(m.role)} worker is running (group {m.group}, {m.host}): beside {_a(plan.role)} worker {why}"
        for m in members
        if m.role is not None and (why := clash.get(m.role))
    ]


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"
