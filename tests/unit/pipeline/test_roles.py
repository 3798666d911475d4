"""What each worker role wires (streams/pipeline/roles.py): its agents, tables, consumer group and timer."""

from __future__ import annotations

import pytest

from alerts.config import load_config
from streams.pipeline.app import Worker, create_app
from streams.pipeline.connection import TABLES, changelog_topic
from streams.pipeline.roles import GroupMember, Role, plan_of, role_conflicts
from tests.support import REPO


def wired(role: str) -> Worker:
    return create_app(load_config(REPO / "config"), in_memory=True, role=role)


def tasks(worker: Worker) -> set[str]:
    return {task.__name__ for task in worker.app._app_tasks}  # faust's list of the app's tasks and timers


def test_all_is_todays_worker_both_stages_every_table_one_group() -> None:
    worker = wired("all")
    app_id = worker.config.settings.kafka.app_id
    assert worker.app.conf.id == app_id and worker.role is Role.ALL
    assert set(worker.app.agents) == {"triage", "deliver"}
    assert set(worker.app.tables) == set(TABLES)
    assert worker.owner is not None and worker.deliverer is not None
    assert "watch_windows" in tasks(worker)
    assert set(worker.loading) == {"profiles", "placements", "registers", "directory"}


def test_the_default_role_is_all() -> None:
    default = create_app(load_config(REPO / "config"), in_memory=True)
    assert default.role is Role.ALL and set(default.app.agents) == {"triage", "deliver"}


def test_triage_runs_the_owner_its_tables_and_the_escalation_timer_in_the_deployments_group() -> None:
    worker = wired("triage")
    assert worker.app.conf.id == worker.config.settings.kafka.app_id, "a switch from all keeps triage's offsets"
    assert set(worker.app.agents) == {"triage"}
    assert set(worker.app.tables) == {"open-incidents", "opening-events", "pending-claims"}
    assert worker.owner is not None and worker.deliverer is None and worker.deliver_agent is None
    assert "watch_windows" in tasks(worker)
    assert "profiles" in worker.loading


def test_deliver_runs_the_deliverer_alone_in_a_group_of_its_own_without_the_timer_or_the_index() -> None:
    worker = wired("deliver")
    assert worker.app.conf.id == worker.config.settings.kafka.app_id + "-deliver"
    assert set(worker.app.agents) == {"deliver"}
    assert set(worker.app.tables) == {"notifications-sent"}
    assert worker.deliverer is not None and worker.owner is None and worker.triage_agent is None
    assert "watch_windows" not in tasks(worker), "the escalation timer runs in one group's leader only: triage's"
    assert set(worker.loading) == {"placements", "registers", "directory"}, "no profile index to wait for"
    assert worker.registry.get_sample_value("crucial_profile_index_loaded") is None, "nor one to report on"
    assert wired("triage").registry.get_sample_value("crucial_profile_index_loaded") == 0.0


@pytest.mark.parametrize("role", ["all", "triage", "deliver"])
def test_every_table_keeps_its_changelog_topic_whatever_the_role(role: str) -> None:
    worker = wired(role)
    for name, table in worker.app.tables.items():
        assert table.changelog_topic.get_topic_name() == changelog_topic(worker.config, name)
    assert worker.app.tables.changelog_topics == {changelog_topic(worker.config, name) for name in worker.app.tables}


def test_an_unknown_role_is_refused_with_the_roles_there_are() -> None:
    with pytest.raises(ValueError, match="unknown worker role 'both': use one of all, triage, deliver"):
        plan_of("both")


def test_the_roles_together_cover_every_table_and_both_stages_once() -> None:
    triage, deliver = plan_of("triage"), plan_of("deliver")
    assert sorted(triage.tables + deliver.tables) == sorted(TABLES) == sorted(plan_of("all").tables)
    assert [triage.escalation_timer, deliver.escalation_timer] == [True, False]


def member(role: str, group: str = "crucial") -> GroupMember:
    return GroupMember(group, plan_of(role).client_id, "10.0.0.7")


@pytest.mark.parametrize(
    ("starting", "running", "refused"),
    [
        ("all", "all", False),  # a second worker of the same role: the group shares the partitions
        ("all", "deliver", True),  # two ledgers: every notification sent twice
        ("all", "triage", True),  # one group, two subscriptions
        ("triage", "triage", False),
        ("triage", "deliver", False),  # the split roles
        ("triage", "all", True),
        ("deliver", "deliver", False),
        ("deliver", "triage", False),
        ("deliver", "all", True),
    ],
)
def test_a_worker_refuses_to_start_beside_a_role_it_would_send_twice_with_or_cannot_share_a_group_with(
    starting: str, running: str, refused: bool
) -> None:
    plan, other = plan_of(starting), plan_of(running)
    problems = role_conflicts(plan, [member(running, other.app_id("crucial"))])
    assert bool(problems) == refused
    if refused:
        article = "an" if running == "all" else "a"
        assert problems[0].startswith(f"{article} {running} worker is running (group {other.app_id('crucial')}, 10.0.0.7)")


def test_each_roles_client_id_names_it_and_a_member_of_an_earlier_version_is_not_judged() -> None:
    assert {member(r.value).role for r in Role} == set(Role)
    assert wired("deliver").app.conf.broker_client_id == "crucial-worker-deliver"
    earlier = GroupMember("crucial", "faust-0.15.3", "10.0.0.8")
    assert earlier.role is None and role_conflicts(plan_of("deliver"), [earlier]) == []
