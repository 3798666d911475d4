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


def evaluate(index: ProfileIndex, events: list[PlacementEvent], labels: dict[str, Label], risk: Risk) -> Evaluation:
    result = Evaluation()
    for event in events:
        label = labels.get(event.event_id)
        if label is None:
            continue
        assessed = assess(event, index, risk)
        m = assessed.match
        links = tuple(sorted({link.profile_id for link in m.links}))
        result.outcomes.append(Outcome(label, m.decision, m.profile_id, m.score, links, tuple(m.alternatives)))
    return result


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
