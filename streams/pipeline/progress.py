"""Progress on stderr for long CLI work (validating and loading 100k profiles), only on a terminal:
piped or in CI the output stays the result lines alone."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """`update(n)` redraws one line ("profiles sent: 40,000 / 100,000") at most every `every_s`."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        every_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.every_s, self.clock = what, total, every_s, clock
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.last = -every_s
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled or self.clock() - self.last < self.every_s:
            return
        self.last = self.clock()
        of = f" / {self.total:,}" if self.total is not None else ""
        self.stream.write(f"\r{self.what}: {done:,}{of}")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        """Clear the line, so the result printed next stands alone."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
