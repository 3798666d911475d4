"""Precision and recall of the matcher on a labelled set (ops/eval/data), per decision level.

A report's label is the profile it is truly about, or none (hard negatives: siblings, namesakes,
shared dates of birth; unrelated children; children linked to a profile only by circumstance). The
identity claim of a decision is its profile id when the decision is match or possible match.

- at *match*: precision = correct match claims / match claims; recall = correct / labelled positives.
- at *match or possible match*: the same over both levels — the alerting recall.
- *possible match* alone: how many of those a person is asked to confirm are right.
- *no match*: how many negatives get no identity claim at all.
Circumstantial links are scored apart: a linked report should name its labelled profile among links.
Output names event ids and categories only, never a child's name or date of birth.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from alerts.assessment import assess
from alerts.config import Risk
from alerts.matching import ProfileIndex
from alerts.model import Decision, PlacementEvent

# The targets.
TARGET_RECALL_AT_POSSIBLE = 0.98
TARGET_PRECISION_AT_MATCH = 0.95


@dataclass(frozen=True)
class Label:
    event_id: str
    profile_id: str | None
    category: str
    variations: tuple[str, ...] = ()
    link_profile: str | None = None
    twin: bool | None = None  # a close namesake twin among the other profiles (crowd runs only)


def read_labels(text: str) -> dict[str, Label]:
    labels = {}
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            labels[row["event_id"]] = Label(
                row["event_id"],
                row.get("profile_id"),
                row.get("category", ""),
                tuple(row.get("variations", [])),
                row.get("link_profile"),
                row.get("twin"),
            )
    return labels


@dataclass(frozen=True)
class Outcome:
    label: Label
    decision: Decision
    profile_id: str | None
    score: float
    links: tuple[str, ...]
    alternatives: tuple[str, ...] = ()
    candidate: bool | None = None  # the labelled profile was among those scored (None: not measured)

    @property
    def claim(self) -> str | None:
        return self.profile_id if self.decision != Decision.NO_MATCH else None


@dataclass(frozen=True)
class Level:
    name: str
    claims: int
    correct: int
    positives: int

    @property
    def precision(self) -> float:
        return self.correct / self.claims if self.claims else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.positives if self.positives else 1.0


@dataclass
class Evaluation:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def positives(self) -> int:
        return sum(1 for o in self.outcomes if o.label.profile_id is not None)

    def level(self, name: str, decisions: set[Decision]) -> Level:
        claims = [o for o in self.outcomes if o.decision in decisions and o.claim is not None]
        correct = sum(1 for o in claims if o.claim == o.label.profile_id)
        return Level(name, len(claims), correct, self.positives)

    @property
    def at_match(self) -> Level:
        return self.level("match", {Decision.MATCH})

    @property
    def at_possible(self) -> Level:
        return self.level("match or possible match", {Decision.MATCH, Decision.POSSIBLE_MATCH})

    @property
    def possible_only(self) -> Level:
        return self.level("possible match only", {Decision.POSSIBLE_MATCH})

    @property
    def meets_targets(self) -> bool:
        return self.at_possible.recall >= TARGET_RECALL_AT_POSSIBLE and self.at_match.precision >= TARGET_PRECISION_AT_MATCH

    @property
    def surfaced(self) -> int:
        """Labelled reports whose profile was not the one claimed but was named as almost as close."""
        return sum(
            1
            for o in self.outcomes
            if o.label.profile_id is not None and o.claim != o.label.profile_id and o.label.profile_id in o.alternatives
        )

    def by(self, key: str) -> dict[str, Counter[str]]:
        """Decision counts per category (key='category') or per variation of true matches ('variation')."""
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for o in self.outcomes:
            wrong = o.claim is not None and o.claim != o.label.profile_id
            verdict = "wrong_profile" if wrong and o.label.profile_id is not None else o.decision.value
            if key == "category":
                table[o.label.category][verdict] += 1
            elif o.label.profile_id is not None:
                for variation in o.label.variations:
                    table[variation][verdict] += 1
        return dict(sorted(table.items()))

    def links(self) -> tuple[int, int, int]:
        """(labelled links found, labelled links, reports with a link to an unlabelled profile)."""
        wanted = [o for o in self.outcomes if o.label.link_profile is not None]
        found = sum(1 for o in wanted if o.label.link_profile in o.links)
        stray = sum(1 for o in self.outcomes if set(o.links) - {o.label.link_profile})
        return found, len(wanted), stray

    def misses(self) -> list[str]:
        """Event ids the matcher got wrong, with what it said (ids and categories only)."""
        out = []
        for o in self.outcomes:
            truth = o.label.profile_id
            if truth is not None and o.claim != truth:
                out.append(
                    f"{o.label.event_id} ({o.label.category}: {', '.join(o.label.variations)}): {o.decision.value} {o.claim or ''} score {o.score:.2f}, wanted {truth}"
                )
            elif truth is None and o.decision == Decision.MATCH and o.claim is not None:
                out.append(
                    f"{o.label.event_id} ({o.label.category}: {', '.join(o.label.variations)}): false match {o.claim} score {o.score:.2f}"
                )
        return out


def evaluate(
    index: ProfileIndex, events: list[PlacementEvent], labels: dict[str, Label], risk: Risk, candidates: bool = False
) -> Evaluation:
    """Assess every labelled event; with `candidates`, also whether candidate generation found the profile."""
    result = Evaluation()
    for event in events:
        label = labels.get(event.event_id)
        if label is None:
            continue
        assessed = assess(event, index, risk)
        m = assessed.match
        links = tuple(sorted({link.profile_id for link in m.links}))
        found = None
        if candidates and label.profile_id is not None:
            found = label.profile_id in index.candidates(event, risk.matching, risk.links)
        result.outcomes.append(Outcome(label, m.decision, m.profile_id, m.score, links, tuple(m.alternatives), found))
    return result


# --- among a crowd of namesakes -------------------------------------------------------------------

CROWD_TARGETS = {
    "recall at match-or-possible": (">=", 0.95),
    "recall at match-or-possible, no twin": (">=", 0.98),
    "precision at match": (">=", 0.98),
    "false-match rate, negatives": ("<=", 0.01),
    "possible-match rate, negatives with no twin": ("<=", 0.10),
}


@dataclass(frozen=True)
class CrowdRow:
    """The crowd figures for one group of reports (all, with a close namesake twin, without)."""

    group: str
    positives: int
    recall_at_possible: float  # the labelled profile claimed, or named among the alternatives of a possible match
    recall_claimed: float  # the labelled profile claimed (match or possible match)
    candidate_recall: float
    match_claims: int
    precision_at_match: float
    negatives: int
    false_match_rate: float
    possible_rate: float


def _ratio(part: int, whole: int, empty: float) -> float:
    return part / whole if whole else empty


def crowd_row(group: str, outcomes: list[Outcome]) -> CrowdRow:
    positives = [o for o in outcomes if o.label.profile_id is not None]
    negatives = [o for o in outcomes if o.label.profile_id is None]
    claimed = [o for o in outcomes if o.decision == Decision.MATCH and o.claim is not None]
    found = sum(1 for o in positives if o.claim == o.label.profile_id)
    named = sum(
        1
        for o in positives
        if o.claim == o.label.profile_id or (o.decision == Decision.POSSIBLE_MATCH and o.label.profile_id in o.alternatives)
    )
    measured = [o for o in positives if o.candidate is not None]
    return CrowdRow(
        group=group,
        positives=len(positives),
        recall_at_possible=_ratio(named, len(positives), 1.0),
        recall_claimed=_ratio(found, len(positives), 1.0),
        candidate_recall=_ratio(sum(1 for o in measured if o.candidate), len(measured), 1.0),
        match_claims=len(claimed),
        precision_at_match=_ratio(sum(1 for o in claimed if o.claim == o.label.profile_id), len(claimed), 1.0),
        negatives=len(negatives),
        false_match_rate=_ratio(sum(1 for o in negatives if o.decision == Decision.MATCH and o.claim), len(negatives), 0.0),
        possible_rate=_ratio(sum(1 for o in negatives if o.decision == Decision.POSSIBLE_MATCH and o.claim), len(negatives), 0.0),
    )


def crowd_rows(evaluation: Evaluation) -> list[CrowdRow]:
    outcomes = evaluation.outcomes
    return [
        crowd_row("all", outcomes),
        crowd_row("no close twin", [o for o in outcomes if o.label.twin is False]),
        crowd_row("close namesake twin", [o for o in outcomes if o.label.twin is True]),
    ]


def crowd_checks(rows: list[CrowdRow]) -> list[tuple[str, float, bool]]:
    """(target, measured, met) for each of the crowd targets."""
    everyone, no_twin = rows[0], rows[1]
    measured = {
        "recall at match-or-possible": everyone.recall_at_possible,
        "recall at match-or-possible, no twin": no_twin.recall_at_possible,
        "precision at match": everyone.precision_at_match,
        "false-match rate, negatives": everyone.false_match_rate,
        "possible-match rate, negatives with no twin": no_twin.possible_rate,
    }
    out = []
    for name, (sense, bound) in CROWD_TARGETS.items():
        value = measured[name]
        out.append((name, value, value >= bound if sense == ">=" else value <= bound))
    return out


def render_crowd(evaluation: Evaluation, title: str) -> str:
    rows = crowd_rows(evaluation)
    lines = [f"== {title}"]
    lines.append(
        f"{'group':<22}{'positives':>10}{'recall@m|p':>12}{'(claimed)':>10}{'cand.recall':>13}{'matches':>9}{'prec@m':>8}"
        f"{'negatives':>11}{'false-match':>13}{'possible':>10}"
    )
    for r in rows:
        lines.append(
            f"{r.group:<22}{r.positives:>10}{r.recall_at_possible:>12.3f}{r.recall_claimed:>10.3f}{r.candidate_recall:>13.3f}{r.match_claims:>9}"
            f"{r.precision_at_match:>8.3f}{r.negatives:>11}{r.false_match_rate:>13.3f}{r.possible_rate:>10.3f}"
        )
    lines.append(
        "recall@m|p counts the labelled profile claimed, or named as almost as close in a possible match "
        "(the officer is shown both); (claimed) only the first"
    )
    for name, value, met in crowd_checks(rows):
        sense, bound = CROWD_TARGETS[name]
        lines.append(f"target {name} {sense} {bound}: {value:.3f} {'met' if met else 'NOT MET'}")
    return "\n".join(lines)


def render(evaluation: Evaluation, title: str) -> str:
    lines = [f"== {title}: {len(evaluation.outcomes)} reports, {evaluation.positives} about a profiled child"]
    lines.append(f"{'decision level':<26}{'claims':>8}{'correct':>9}{'precision':>11}{'recall':>9}")
    for level in (evaluation.at_match, evaluation.at_possible, evaluation.possible_only):
        recall = f"{level.recall:>9.3f}" if level.name != "possible match only" else f"{'':>9}"
        lines.append(f"{level.name:<26}{level.claims:>8}{level.correct:>9}{level.precision:>11.3f}{recall}")
    negatives = [o for o in evaluation.outcomes if o.label.profile_id is None]
    clean = sum(1 for o in negatives if o.claim is None)
    lines.append(
        f"{'no match (negatives)':<26}{len(negatives):>8}{clean:>9}{'':>11}{clean / len(negatives) if negatives else 1:>9.3f}"
    )
    if evaluation.surfaced:
        lines.append(
            f"  (and {evaluation.surfaced} more named as 'almost as close' in a possible match: "
            f"recall at match-or-possible with them {(evaluation.at_possible.correct + evaluation.surfaced) / max(1, evaluation.positives):.3f})"
        )
    found, wanted, stray = evaluation.links()
    lines.append(
        f"circumstantial links: {found}/{wanted} labelled links found; {stray} report(s) linked to an unlabelled profile"
    )
    lines.append("")
    lines.append(f"{'category / variation':<34}{'match':>7}{'possible':>10}{'no match':>10}{'wrong':>7}")
    for key in ("category", "variation"):
        for name, counts in evaluation.by(key).items():
            lines.append(
                f"{name:<34}{counts['match']:>7}{counts['possible_match']:>10}{counts['no_match']:>10}{counts['wrong_profile']:>7}"
            )
        lines.append("")
    ok = evaluation.meets_targets
    lines.append(
        f"targets: recall at match-or-possible >= {TARGET_RECALL_AT_POSSIBLE} "
        f"({evaluation.at_possible.recall:.3f}), precision at match >= {TARGET_PRECISION_AT_MATCH} "
        f"({evaluation.at_match.precision:.3f}): {'met' if ok else 'NOT MET'}"
    )
    return "\n".join(lines)
