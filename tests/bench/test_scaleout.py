"""The scale-out model (ops/bench/scaleout.py): pure and seeded, so these run anywhere in a second."""

from __future__ import annotations

import pytest

from ops.bench import scaleout as so

pytestmark = pytest.mark.bench

COSTS = so.Costs(cpu_ms_per_report=0.7, cpu_ms_per_notification=5.6, core_ceiling=0.5)


def test_cores_and_workers_follow_the_measured_costs() -> None:
    load = so.Load(reports_per_day=86_400, matched=0.1, fanout=10, peak_reports=300, peak_seconds=1)
    # 100 reports/s: 100 × 0.7 ms + 100 notifications × 5.6 ms = 0.63 of a core.
    assert so.cores_needed(100, load, COSTS) == pytest.approx(0.63)
    assert so.workers_for(0.63, COSTS) == 2  # at most half a core each
    assert so.workers_for(0.0, COSTS) == 1
    assert so.memory_mib(1_000_000, base_mib=128, kib_per_profile=0.75) == pytest.approx(128 + 732.4, abs=0.1)


def test_a_burst_beyond_one_worker_delays_first_alerts_unless_they_have_a_lane() -> None:
    load = so.Load(reports_per_day=0, matched=0.1, fanout=10, peak_reports=9_000, peak_seconds=30)  # ~300 notes/s
    one = so.simulate(load, COSTS, workers=1, partitions=12, seed=1)
    assert one["fifo first"] > 5.0  # saturated: the queue grows through the burst
    assert one["lane first"] < 0.1  # first alerts overtake the queue
    assert one["lane all"] >= one["fifo all"] * 0.9  # the rest still wait: the lane moves work, it adds none
    four = so.simulate(load, COSTS, workers=4, partitions=12, seed=1)
    assert four["fifo all"] < one["fifo all"] / 10
    assert so.simulate(load, COSTS, workers=4, partitions=12, seed=1) == four  # seeded


def test_every_notification_of_the_burst_is_served_once() -> None:
    load = so.Load(reports_per_day=0, matched=0.5, fanout=4, peak_reports=200, peak_seconds=10)
    jobs = [job for _, job in so.burst(load, partitions=4, seed=3)]
    served = so.serve(jobs, service_s=0.01, priority=True)
    assert sorted(id(j) for j, _ in served) == sorted(id(j) for j in jobs)
    assert all(done >= job.arrived + 0.01 for job, done in served)
    assert sum(j.first_alert for j in jobs) == len({j.report for j in jobs})


def test_the_command_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert so.main(["--peak-reports", "600", "--workers", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "Load and workers" in out and "The burst simulated" in out and "MiB resident each" in out
