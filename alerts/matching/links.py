"""Circumstantial links: a registration, phone number or companion in the report recorded on any profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.identity import (
    associate_key,
)
from alerts.matching.keys import MAX_ASSOCIATE_LINKS, key_hash
from alerts.matching.scoring import _Probe, _Tuned
from alerts.matching.storage import _RISK_OF
from alerts.model import (
    ProfileLink,
)

if TYPE_CHECKING:
    from alerts.matching.index import ProfileIndex


# (slot, kind, key) -> the line explaining the link, "{}" where the profile id goes
_Found = dict[tuple[int, str, str], str]


def _companions(index: ProfileIndex, probe: _Probe, found: _Found) -> None:
    """Runs of two or three words in the report's companions and notes that name a recorded associate."""
    for words, where in probe.companions:
        for size in (2, 3):
            for start in range(len(words) - size + 1):
                window = words[start : start + size]
                name = associate_key(window)
                if name is None:
                    continue
                said = " ".join(window)
                posting = index._posting(key_hash(f"a\x1f{name}"))
                if len(posting) > MAX_ASSOCIATE_LINKS:  # a name that common says nothing about who
                    continue
                for slot in posting:
                    found.setdefault((slot, "associate", name), f"'{said}' in {where} is an associate recorded on profile {{}}")


def find_links(index: ProfileIndex, probe: _Probe, tuned: _Tuned) -> list[ProfileLink]:
    """Every profile that a registration, phone number or companion in the report is recorded on;
    the highest-risk first, at most links.max_links. All exact keys: no profile is opened."""
    found: _Found = {}
    for plate in probe.plates:
        for slot in index._posting(key_hash(f"v\x1f{plate}")):
            found.setdefault((slot, "vehicle", plate), f"vehicle {plate} in the report is recorded against profile {{}}")
    for key, written in probe.phones.items():
        for slot in index._posting(key_hash(f"t\x1f{key}")):
            found.setdefault((slot, "phone", key), f"phone {written} in the report is recorded against profile {{}}")
    _companions(index, probe, found)

    def rank(item: tuple[tuple[int, str, str], str]) -> tuple[int, str, str]:
        (slot, kind, _), _ = item
        record = index._records[slot]
        assert record is not None
        return (-_RISK_OF[record[2][1]].rank, index._ids[slot] or "", kind)

    links = []
    for (slot, kind, _), detail in sorted(found.items(), key=rank)[: tuned.links.max_links]:
        profile_id, record = index._ids[slot], index._records[slot]
        assert profile_id is not None and record is not None
        links.append(
            ProfileLink(
                profile_id=profile_id,
                kind=kind,  # type: ignore[arg-type]
                detail=detail.format(profile_id),
                risk_level=_RISK_OF[record[2][1]],
            )
        )
    return links
