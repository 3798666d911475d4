"""The directory's read-your-writes lookup: a hit answers at once, a miss is looked up again once the
directory has caught up (alerts/directory.py look)."""

from __future__ import annotations

import asyncio

from alerts.directory import IncidentDirectory


class _Lagging:
    """A catch_up that applies what was written meanwhile, as the directory's follower would."""

    def __init__(self, written: list[str], known: set[str]) -> None:
        self.written, self.known, self.calls = written, known, 0

    async def __call__(self) -> bool:
        self.calls += 1
        self.known.update(self.written)
        return True


def _lookup(known: set[str], wanted: str) -> str | None:
    return wanted if wanted in known else None


def test_a_hit_is_answered_without_catching_up() -> None:
    directory, known = IncidentDirectory(), {"CH-1"}
    directory.catch_up = lagging = _Lagging(["CH-2"], known)
    assert asyncio.run(directory.look(lambda: _lookup(known, "CH-1"))) == "CH-1"
    assert lagging.calls == 0


def test_a_miss_is_looked_up_again_after_catching_up_once() -> None:
    directory, known = IncidentDirectory(), set[str]()
    directory.catch_up = lagging = _Lagging(["CH-2"], known)
    assert asyncio.run(directory.look(lambda: _lookup(known, "CH-2"))) == "CH-2"  # written, not read yet
    assert lagging.calls == 1


def test_a_true_miss_stays_a_miss_after_one_catch_up() -> None:
    directory, known = IncidentDirectory(), set[str]()
    directory.catch_up = lagging = _Lagging(["CH-2"], known)
    assert asyncio.run(directory.look(lambda: _lookup(known, "CH-9"))) is None
    assert lagging.calls == 1


def test_without_a_follower_a_miss_is_answered_from_what_is_applied() -> None:
    assert asyncio.run(IncidentDirectory().look(lambda: None)) is None
