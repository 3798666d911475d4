"""One vocabulary of indicators (config/indicators.yaml), shared by grading and routing.

Rules name indicator ids or groups; profiles carry free text. Both sides meet only as ids: a free-text
indicator maps to an id when its normalised form is exactly the label or a synonym of that id — a
lookup in one table, so a substring can never match by accident and grading and routing can never
disagree about what a profile carries. What maps to nothing is returned as unmapped, to be reported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from alerts.model import RiskProfile

if TYPE_CHECKING:
    from alerts.config import Vocabulary

_NOT_WORD = re.compile(r"[^\w]+")
# A trailing abbreviation in capitals, "child sexual exploitation (CSE)" — never "(none)" or "(ruled out)".
_TRAILING_BRACKET = re.compile(r"\s*\((?!NO\b|NONE\b|NOT\b)[A-Z]{2,6}\)\s*$")


def phrase_key(text: str) -> str:
    """The form phrases are compared in: NFKC, case-folded, punctuation and underscores as spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    return " ".join(_NOT_WORD.sub(" ", folded).split())


@dataclass(frozen=True)
class ProfileIndicators:
    """A profile's indicators as ids (in the profile's order, each once) and the texts that map to none."""

    ids: tuple[str, ...]
    unmapped: tuple[str, ...]


class Indicators:
    """The vocabulary as lookups: phrase -> id, and rule names (ids or groups) -> sets of ids."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    @cached_property
    def by_phrase(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for indicator_id, indicator in self.vocabulary.indicators.items():
            for phrase in (indicator_id, indicator.label, *indicator.synonyms):
                table.setdefault(phrase_key(phrase), indicator_id)
        return table

    def label(self, indicator_id: str) -> str:
        return self.vocabulary.indicators[indicator_id].label

    def known(self, name: str) -> bool:
        """Whether a rule may name `name`: an indicator id or a group id."""
        return name in self.vocabulary.indicators or name in self.vocabulary.groups

    def expand(self, names: Iterable[str]) -> frozenset[str]:
        """The indicator ids that rule names (ids or groups) stand for. KeyError for an unknown name."""
        out: set[str] = set()
        for name in names:
            if name in self.vocabulary.groups:
                out.update(self.vocabulary.groups[name])
            elif name in self.vocabulary.indicators:
                out.add(name)
            else:
                raise KeyError(name)
        return frozenset(out)

    @cached_property
    def qualifiers(self) -> tuple[str, ...]:
        return tuple(sorted((phrase_key(q) + " " for q in self.vocabulary.qualifiers), key=len, reverse=True))

    def lookup(self, text: str) -> str | None:
        """The id `text` is a wording of: exactly, or once leading qualifiers ("suspected", "at risk
        of") and a trailing bracketed abbreviation ("(CSE)") are read off — never by containment."""
        key = phrase_key(text)
        bracketed = _TRAILING_BRACKET.sub("", unicodedata.normalize("NFKC", text).strip())
        for candidate in dict.fromkeys((key, phrase_key(bracketed))):
            while candidate:
                if candidate in self.by_phrase:
                    return self.by_phrase[candidate]
                stripped = next((candidate[len(q) :] for q in self.qualifiers if candidate.startswith(q)), None)
                if stripped is None:
                    break
                candidate = stripped
        return None

    def map_texts(self, texts: Iterable[str]) -> ProfileIndicators:
        ids: dict[str, None] = {}
        unmapped: list[str] = []
        for text in texts:
            found = self.lookup(text)
            if found is None:
                unmapped.append(text)
            else:
                ids.setdefault(found)
        return ProfileIndicators(tuple(ids), tuple(unmapped))

    def of_profile(self, profile: RiskProfile | None) -> ProfileIndicators:
        return self.map_texts(profile.indicators) if profile is not None else ProfileIndicators((), ())

    def suggestion(self, name: str) -> str | None:
        """The id a rule probably meant when it named a label or synonym instead of an id."""
        return self.lookup(name)


def unmapped_counts(profiles: Iterable[RiskProfile], indicators: Indicators) -> dict[str, int]:
    """Each unmapped indicator text (normalised) and how many profiles carry it — no profile ids."""
    counts: dict[str, int] = {}
    for profile in profiles:
        for text in dict.fromkeys(phrase_key(t) for t in indicators.of_profile(profile).unmapped):
            counts[text] = counts.get(text, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


_BUILT: dict[int, tuple[Vocabulary, Indicators]] = {}


def indicators_of(vocabulary: Vocabulary) -> Indicators:
    """The lookups for a loaded vocabulary, built once (config is loaded once; a reload is a new one)."""
    built = _BUILT.get(id(vocabulary))
    if built is None or built[0] is not vocabulary:
        if len(_BUILT) > 16:
            _BUILT.clear()
        built = _BUILT[id(vocabulary)] = (vocabulary, Indicators(vocabulary))
    return built[1]
