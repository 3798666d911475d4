"""`crucial route`: the routing decision explained offline, with the worker's own code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.cli.main import main
from tests.golden.golden import GOLDEN, check_golden
from tests.support import REPO

EVENT = GOLDEN / "input" / "event.json"
PROFILES = GOLDEN / "input" / "profiles.jsonl"
AT = "2026-07-14T20:51:00Z"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["route", "--config", str(REPO / "config"), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_route_explains_who_is_alerted_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--event", str(EVENT), "--profiles", str(PROFILES), "--at", AT)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "event evt-golden-0001, received 21:51 BST Tue 14 Jul 2026; 1 profile(s) loaded"
    assert lines[1].startswith("match on profile prof-golden-01")
    # The routing decision is golden; the match and grade lines above it belong to matching/grading.
    routes = lines[next(i for i, line in enumerate(lines) if "notification(s) to" in line) :]
    check_golden("route/golden-event.txt", "\n".join(routes) + "\n")
    assert "why: rule 'Met North West BCU' (local authority Brent, Harrow; priority high)" in out


def test_route_prints_each_message_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--event", str(EVENT), "--profiles", str(PROFILES), "--at", AT, "--messages")
    assert code == 0
    assert out.count("--- alert by sms (") == 1 and out.count("--- alert by email: subject [Crucial Hour]") == 1


def test_route_json_is_the_same_decision(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--event", str(EVENT), "--profiles", str(PROFILES), "--at", AT, "--json")
    assert code == 0
    decision = json.loads(out)
    assert decision["outcome"] == "opened" and decision["incident"]["priority"] == "high"
    routes = {(r["agency_id"], r["channel"]) for r in decision["routes"]}
    assert ("border-force-national", "sms") in routes and ("brent-edt", "email") in routes
    assert len(decision["notifications"]) == len(decision["routes"])
    assert all(n["kind"] == "alert" for n in decision["notifications"])


def test_route_defaults_to_the_reports_time(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--event", str(EVENT), "--profiles", str(PROFILES))
    assert "received 21:50 BST Tue 14 Jul 2026" in out
    assert "PS Devon Ilves" in out  # the night layer at 21:50 BST


def test_route_without_a_matching_profile_alerts_nobody(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--event", str(EVENT), "--at", AT)
    assert code == 0
    assert "no profile matches: nobody would be alerted" in out


def test_route_refuses_an_invalid_event(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(EVENT.read_text()), "type": "vanished"}))
    code, _, err = run(capsys, "--event", str(bad))
    assert code == 1 and "type: Input should be" in err


def test_route_refuses_a_moment_without_a_zone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "--event", str(EVENT), "--at", "2026-07-14T20:51:00")
    assert "has no time zone" in capsys.readouterr().err


def test_route_at_sets_the_moment_of_receipt_and_so_who_is_on_call(capsys: pytest.CaptureFixture[str]) -> None:
    # The report says 21:50 BST (nights: PS Devon Ilves); received at 08:10 BST the next day, the days layer.
    code, out, err = run(capsys, "--event", str(EVENT), "--profiles", str(PROFILES), "--at", "2026-07-15T07:10:00Z")
    assert code == 0, err
    assert "received 08:10 BST Wed 15 Jul 2026" in out
    assert "PS Blake Mercer" in out and "PS Devon Ilves" not in out
