"""What the costliest report the intake bounds allow asks of the matcher at 100,000 profiles.

    .venv/bin/python ops/bench/bench_matching.py --sizes 100000   # once: writes var/bench/v2/profiles-100000.jsonl
    .venv/bin/python ops/bench/worst_report.py

Builds the index from the benchmark's profiles, then assesses reports made of the index's commonest
given and family names at the bounds (alerts/intake.py: words per name, entries per list) and prints
the slowest and fastest of a few runs each. docs/operations.md "Intake bounds" quotes the figures.
"""

from __future__ import annotations

import copy
import gc
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from alerts.assessment import assess  # noqa: E402
from alerts.config import load_config  # noqa: E402
from alerts.intake import MAX_NAME_WORDS, REPORT_MAX_ENTRIES, parse_event, parse_profile  # noqa: E402
from alerts.matching import ProfileIndex  # noqa: E402
from tests.support import make_event  # noqa: E402

PROFILES = REPO / "var" / "bench" / "v2" / "profiles-100000.jsonl"
Mutation = Callable[[dict[str, Any], list[str], list[str]], None]


def at_the_bounds(report: dict[str, Any], given: list[str], family: list[str]) -> None:
    words, entries = MAX_NAME_WORDS, REPORT_MAX_ENTRIES
    child, seen = report["child"], report["circumstances"]
    child["given_names"], child["family_name"] = " ".join(given[:words]), " ".join(family[:words])
    half = words // 2
    child["aliases"] = [" ".join(given[i : i + half] + family[i : i + half]) for i in range(entries)]
    child["identifiers"] = [{"scheme": "home_office", "value": f"HO-S{i:07d}"} for i in range(entries)]
    seen["accompanied_by"] = [f"{given[i]} {family[i]}" for i in range(entries)]
    seen["phone_numbers"] = [f"+4477009{i:05d}" for i in range(entries)]
    seen["vehicles"] = [f"AB{i:02d} CDE" for i in range(entries)]


def longest_names(report: dict[str, Any], given: list[str], family: list[str]) -> None:
    report["child"]["given_names"] = " ".join(given[:MAX_NAME_WORDS])
    report["child"]["family_name"] = " ".join(family[:MAX_NAME_WORDS])


def most_aliases(report: dict[str, Any], given: list[str], family: list[str]) -> None:
    report["child"]["aliases"] = [f"{given[i]} {family[i]}" for i in range(REPORT_MAX_ENTRIES)]


CASES: list[tuple[str, Mutation | None]] = [
    ("an ordinary report", None),
    (f"{MAX_NAME_WORDS} common words in each name", longest_names),
    (f"{REPORT_MAX_ENTRIES} common aliases", most_aliases),
    ("every name and list at its bound", at_the_bounds),
]


def main() -> int:
    if not PROFILES.exists():
        print(f"{PROFILES} is missing: run ops/bench/bench_matching.py --sizes 100000 once", file=sys.stderr)
        return 2
    config = load_config(REPO / "config")
    index = ProfileIndex(config.risk.matching, config.risk.links)
    given, family = Counter[str](), Counter[str]()
    with PROFILES.open("rb") as handle:
        for line in handle:
            profile = parse_profile(line)
            index.upsert(profile)
            given.update(profile.given_names.split())
            family.update((profile.family_name or "").split())
    gc.freeze()  # as the worker does once its index is loaded (streams/pipeline/profiles.py)
    common_given = [name for name, _ in given.most_common(40)]
    common_family = [name for name, _ in family.most_common(40)]
    now = datetime.now(UTC)
    print(f"{len(index)} profiles")
    print("| report | bytes | slowest of 5 | fastest of 5 | decision |\n|---|---|---|---|---|")
    for label, mutate in CASES:
        report = copy.deepcopy(make_event(now=now))
        if mutate is not None:
            mutate(report, common_given, common_family)
        raw = json.dumps(report).encode()
        event = parse_event(raw, config.settings.intake, now)
        took = []
        for _ in range(5):
            began = time.perf_counter()
            outcome = assess(event, index, config.risk)
            took.append(1000 * (time.perf_counter() - began))
        print(f"| {label} | {len(raw)} | {max(took):.1f} ms | {min(took):.1f} ms | {outcome.match.decision.value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
