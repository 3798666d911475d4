"""escalation.yaml (alerts/config/escalation.py): steps in time order, notifying known agencies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Edit
from tests.unit.config.cases import Case, ids, problems_after

CASES: list[Case] = [
    (
        "steps out of time order",
        lambda d: d["chains"]["high"]["steps"][1].update(after_minutes=1),
        "escalation.yaml: chains.high.steps[1].after_minutes: 1.0 is not after the previous step (5.0) — list steps in time order",
    ),
    (
        "an unknown agency",
        lambda d: d["chains"]["high"]["steps"][0].update(notify=["met-duty-officr"]),
        "escalation.yaml: chains.high.steps[0].notify[0]: unknown agency 'met-duty-officr' — "
        "define it in agencies.yaml or use a known id",
    ),
    (
        "a step that notifies nobody",
        lambda d: d["chains"]["high"]["steps"][0].update(notify=[]),
        "escalation.yaml: chains.high.steps[0].notify: List should have at least 1 item after validation, not 0 — "
        "give at least one entry",
    ),
    (
        "an unknown priority",
        lambda d: d["chains"].update(urgent=d["chains"]["high"]),
        "escalation.yaml: chains.urgent.[key]: Input should be 'high', 'medium' or 'low' — use one of the values listed",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_escalation_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "escalation.yaml", change) == [message]
