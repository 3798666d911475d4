"""`crucial indicators`: the controlled list of indicators, and the profile wordings it does not know.

With --profiles, every free-text indicator of those profiles that maps to no indicator of
indicators.yaml is listed with the number of profiles carrying it — never a profile id, a name or any
other field — and the command exits 1, so a data-quality job can gate on it. Without, it prints the
vocabulary: each id, its NRM exploitation type, label and wordings, and the groups.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alerts.config import Config, load_config
from alerts.errors import RejectedInput
from alerts.indicators import indicators_of, unmapped_counts
from alerts.intake import parse_profile
from alerts.model import RiskProfile


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "indicators",
        parents=[common],
        help="list the indicator vocabulary, or the profile indicators it does not know (--profiles)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profiles", help="risk profiles as JSON Lines: list their unmapped indicators")
    parser.set_defaults(func=cmd_indicators)


def _profiles(source: str) -> tuple[list[RiskProfile], int]:
    profiles, bad = [], 0
    for number, line in enumerate(Path(source).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            profiles.append(parse_profile(line))
        except RejectedInput:
            bad += 1
            print(
                f"{source}: row {number}: not a valid profile, skipped (`crucial profiles load` gives the reasons)",
                file=sys.stderr,
            )
    return profiles, bad


def _vocabulary_lines(config: Config) -> list[str]:
    vocabulary = config.indicators
    lines = [f"source: {vocabulary.source}", ""]
    for indicator_id, indicator in vocabulary.indicators.items():
        lines.append(f"{indicator_id} ({indicator.nrm_category}): {indicator.label}")
        lines.extend(f"    {synonym}" for synonym in indicator.synonyms)
    lines.append("")
    lines.extend(f"group {group_id}: {', '.join(members)}" for group_id, members in vocabulary.groups.items())
    return lines


def cmd_indicators(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.profiles is None:
        print("\n".join(_vocabulary_lines(config)))
        return 0
    profiles, bad = _profiles(args.profiles)
    counts = unmapped_counts(profiles, indicators_of(config.indicators))
    print(f"{len(profiles)} profile(s) read; {len(counts)} indicator wording(s) not in indicators.yaml")
    for wording, count in counts.items():
        print(f"  {count} profile(s): {wording}")
    if counts:
        print("add each as a synonym of an indicator in indicators.yaml, or correct the profiles")
    return 1 if counts or bad else 0


def report_unmapped(profiles: list[RiskProfile], config: Config) -> None:
    """At profile load: how many indicator wordings the vocabulary does not know (stderr, no profile data)."""
    counts = unmapped_counts(profiles, indicators_of(config.indicators))
    if counts:
        print(
            f"{len(counts)} indicator wording(s) on {sum(counts.values())} profile(s) are not in indicators.yaml "
            "and count for neither grading nor routing: list them with `crucial indicators --profiles FILE`",
            file=sys.stderr,
        )
