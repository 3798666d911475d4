"""Why reports are graded "possible": the crowd's possible matches grouped by what made them possible.

    .venv/bin/python ops/eval/possible_breakdown.py --crowd 10000 --crowd-seed 11
    .venv/bin/python ops/eval/possible_breakdown.py --crowd 10000 --crowd-seed 11 --examples 5

Runs the labelled set plus a crowd (ops/eval/crowd.py) through the matcher as `crucial evaluate
--crowd` does, and groups every possible match by the evidence its explanation gives: what made it
possible (the score itself, between the thresholds, or a decision rule that demoted a match), whether
the rule "chance agreement" kept it on identity alone, how the date of birth agreed, and how the names
did (near spellings, initials, word order); "almost as close" among the rules' lines means other
profiles were nearly as close. Each group is counted among negatives with no close twin
(the possible-match rate the issue bounds), and among labelled positives the possible match names
(claimed, or listed as an alternative): a group with many of the first and few of the second is one
where "possible" is not earned. With --examples, that many explanations per group (synthetic names).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from alerts.assessment import assess  # noqa: E402
from alerts.config import load_config  # noqa: E402
from alerts.evaluation import Label, read_labels  # noqa: E402
from alerts.matching import ProfileIndex  # noqa: E402
from alerts.model import Decision, MatchResult  # noqa: E402
from streams.cli.match import _add_crowd, load_index, read_events  # noqa: E402

# A line of the explanation -> the rule that wrote it (alerts/matching/rules.py).
RULE_LINES = {
    "almost as close": "almost as close",
    "share this name and date of birth": "almost as close (twins in the records)",
    "only one name agrees in full": "first name and initial",
    "is not on the profile": "family name missing",
    "agrees only approximately": "approximate date",
    "no date of birth to tell namesakes apart": "approximate date (no date)",
    "more profile(s) share as much": "unscored namesakes",
    "circumstances link it": "link not overridden",
}
DATE_WORDS = (
    ("barely consistent", "date barely consistent (evidence against)"),
    ("a year off", "date a year off an estimate"),
    ("consistent with", "date consistent"),
    ("within a few weeks", "dates within weeks"),
    ("close to", "dates close (swap or year typo)"),
    ("date of birth", "date the same"),
)


Group = tuple[str, ...]


def group_of(result: MatchResult, match_at: float) -> Group:
    """(made possible by, kept by chance agreement, date, names) as the explanation says them: a score
    under the match threshold made it possible itself, else the rules whose lines it carries did."""
    lines = result.explanation
    rules = sorted({rule for line in lines for said, rule in RULE_LINES.items() if said in line})
    made = "score between the thresholds" if result.score < match_at else "match demoted: " + ", ".join(rules)
    chance = "identity alone, kept" if any(line.startswith("identity alone") for line in lines) else ""
    headline = lines[0] if lines else ""
    date = next((kind for word, kind in DATE_WORDS if word in headline), "no date to compare")
    names_line = next((line for line in lines if line.startswith("names: ")), "")
    names = []
    if names_line.count("~"):
        names.append(f"{names_line.count('~')} near spelling(s)")
    if "initial" in names_line:
        names.append("initial")
    if "word order" in names_line:
        names.append("word order")
    return made, chance, date, ", ".join(names) or "names as written"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO / "ops" / "eval" / "data"))
    parser.add_argument("--config", default=str(REPO / "config"))
    parser.add_argument("--crowd", type=int, default=10_000)
    parser.add_argument("--crowd-seed", type=int, default=11)
    parser.add_argument("--examples", type=int, default=0, help="explanations shown per group of negatives")
    args = parser.parse_args()
    config = load_config(args.config)
    directory = Path(args.data)
    index = ProfileIndex(config.risk.matching, config.risk.links)
    load_index(str(directory / "profiles.jsonl"), index, sys.stderr)
    events, _ = read_events(str(directory / "reports.jsonl"), sys.stderr)
    labels: dict[str, Label] = read_labels((directory / "labels.jsonl").read_text(encoding="utf-8"))
    if args.crowd:
        events, labels, _ = _add_crowd(directory, index, events, args.crowd, args.crowd_seed)
    negatives: Counter[Group] = Counter()
    named: Counter[Group] = Counter()
    examples: defaultdict[Group, list[str]] = defaultdict(list)
    no_twin_negatives = 0
    for event in events:
        label = labels.get(event.event_id)
        if label is None:
            continue
        result = assess(event, index, config.risk).match
        negative = label.profile_id is None
        no_twin_negatives += negative and label.twin is False
        if result.decision != Decision.POSSIBLE_MATCH or result.profile_id is None:
            continue
        group = group_of(result, config.risk.matching.thresholds.match)
        if negative and label.twin is False:
            negatives[group] += 1
            examples[group].append(" | ".join(result.explanation))
        elif not negative and label.profile_id in (result.profile_id, *result.alternatives):
            named[group] += 1
    print(
        f"possible matches by what made them possible: crowd {args.crowd} seed {args.crowd_seed}; "
        f"{sum(negatives.values())} of {no_twin_negatives} negatives with no close twin"
    )
    print(f"{'negatives':>9} {'positives':>9}  made possible by / chance agreement / date / names")
    for group in sorted(set(negatives) | set(named), key=lambda g: (-negatives[g], -named[g])):
        print(f"{negatives[group]:>9} {named[group]:>9}  {' / '.join(part or '-' for part in group)}")
        for line in examples[group][: args.examples]:
            print(f"{'':>22}{line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
