"""Every alert rule links to its runbook, and the runbook's section exists."""

from __future__ import annotations

import re

import yaml

from tests.support import REPO

RUNBOOKS = REPO / "docs" / "runbooks.md"


def anchors(markdown: str) -> set[str]:
    """Heading anchors as GitHub and most Markdown renderers make them."""
    found = set()
    for line in markdown.splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            found.add(re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-"))
    return found


def test_every_alert_has_a_runbook_url_whose_section_exists() -> None:
    known = anchors(RUNBOOKS.read_text())
    rules = [
        rule
        for path in sorted((REPO / "ops/prometheus/rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert rules
    for rule in rules:
        url = rule["annotations"].get("runbook_url", "")
        page, _, anchor = url.partition("#")
        assert page == "docs/runbooks.md", f"{rule['alert']}: runbook_url {url!r}"
        assert anchor in known, f"{rule['alert']}: no section #{anchor} in docs/runbooks.md"
