"""indicators.yaml: the controlled list of indicators that grading and routing rules name, and the
checks that each wording means one indicator and that every rule names a known one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints

from alerts.config.base import Schema
from alerts.errors import ConfigError

if TYPE_CHECKING:
    from alerts.config.risk import Risk
    from alerts.config.routing import Routing


IndicatorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
NrmCategory = Literal["sexual", "labour", "criminal", "domestic_servitude", "organ_harvesting", "none"]


class Indicator(Schema):
    label: Phrase
    nrm_category: NrmCategory = Field(description="the NRM exploitation type; none for a means of control")
    synonyms: list[Phrase] = Field(default=[], description="other wordings, compared exactly (case and punctuation aside)")


class Vocabulary(Schema):
    """The controlled list of indicators that grading and routing rules name (see alerts/indicators.py)."""

    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="where the list and its wording come from"
    )
    indicators: Annotated[dict[IndicatorId, Indicator], Field(min_length=1)]
    groups: dict[IndicatorId, Annotated[list[IndicatorId], Field(min_length=1)]] = {}
    qualifiers: list[Phrase] = Field(
        default=[], description="leading words read off a profile's text before the lookup ('suspected', 'at risk of')"
    )


def check_vocabulary(path: str, vocabulary: Vocabulary) -> Iterator[ConfigError]:
    """Each phrase means one indicator; qualifiers are no negations; groups name known indicators and
    are not indicators themselves."""
    yield from _check_wordings(path, vocabulary)
    yield from _check_qualifiers(path, vocabulary)
    for group_id, members in vocabulary.groups.items():
        if group_id in vocabulary.indicators:
            yield ConfigError(
                path, f"groups.{group_id}", f"'{group_id}' is also an indicator id", "give the group a name of its own"
            )
        for j, member in enumerate(members):
            if member not in vocabulary.indicators:
                yield ConfigError(
                    path,
                    f"groups.{group_id}[{j}]",
                    f"unknown indicator '{member}'",
                    "define it under indicators: or use a known id",
                )


def _check_wordings(path: str, vocabulary: Vocabulary) -> Iterator[ConfigError]:
    from alerts.indicators import phrase_key

    first: dict[str, tuple[str, str]] = {}
    for indicator_id, indicator in vocabulary.indicators.items():
        phrases = [("label", indicator.label), *((f"synonyms[{j}]", p) for j, p in enumerate(indicator.synonyms))]
        for key, phrase in phrases:
            other = first.setdefault(phrase_key(phrase), (indicator_id, key))
            if other[0] != indicator_id:
                yield ConfigError(
                    path,
                    f"indicators.{indicator_id}.{key}",
                    f"'{phrase}' already means '{other[0]}' (indicators.{other[0]}.{other[1]})",
                    "give each wording to one indicator only",
                )


def _check_qualifiers(path: str, vocabulary: Vocabulary) -> Iterator[ConfigError]:
    from alerts.indicators import phrase_key
    from alerts.phrases import NEGATIONS

    for j, qualifier in enumerate(vocabulary.qualifiers):
        if set(phrase_key(qualifier).split()) & NEGATIONS:
            yield ConfigError(
                path, f"qualifiers[{j}]", f"'{qualifier}' is a negation", "remove it: a negated indicator must map to nothing"
            )


def check_indicator_names(
    directory: Path, vocabulary: Vocabulary, routing: Routing | None, risk: Risk | None
) -> Iterator[ConfigError]:
    """Every indicator a routing or grading rule names (in routing.yaml, risk.yaml) is an id or group of
    indicators.yaml."""
    from alerts.indicators import Indicators

    known = Indicators(vocabulary)
    named: list[tuple[str, str, list[str] | None]] = []
    if routing is not None:
        named += [("routing.yaml", f"rules[{i}].match.indicators", r.match.indicators) for i, r in enumerate(routing.rules)]
    if risk is not None:
        named += [
            ("risk.yaml", f"grading.rules[{i}].when.indicators", r.when.indicators) for i, r in enumerate(risk.grading.rules)
        ]
    for file, key, names in named:
        for j, name in enumerate(names or []):
            if known.known(name):
                continue
            meant = known.suggestion(name)
            fix = (
                f"use the id '{meant}' ('{name}' is one of its wordings)"
                if meant
                else "use an indicator id or group of indicators.yaml, or add it there"
            )
            yield ConfigError(str(directory / file), f"{key}[{j}]", f"unknown indicator '{name}'", fix)
