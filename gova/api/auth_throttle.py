"""Failed API-key lookups counted per client address, so guessing keys is cheap to refuse.

Each unknown key costs a database query; past the limit, an address is answered 429 without
one until its minute is over. Windows are fixed (they start at the address's first failure),
so `Retry-After` is exact. The table is a bounded TTL cache: a flood from many addresses
evicts the least recently seen instead of growing the process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

WINDOW_S = 60.0


@dataclass
class _Window:
    started: float
    failures: int


class FailureThrottle:
    def __init__(
        self,
        limit: int,
        *,
        window_s: float = WINDOW_S,
        maxsize: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self._timer = limit, window_s, timer
        # An entry expires window_s after it was inserted; counting mutates it in place, so
        # further failures never extend the window.
        self._windows: TTLCache[str, _Window] = TTLCache(maxsize, window_s, timer)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None while it is under the limit."""
        window = self._windows.get(address)
        if not self.limit or window is None or window.failures < self.limit:
            return None
        return max(1, math.ceil(window.started + self.window_s - self._timer()))

    def failed(self, address: str) -> None:
        if not self.limit:
            return
        window = self._windows.get(address)
        if window is None:
            self._windows[address] = _Window(self._timer(), 1)
        else:
            window.failures += 1

    def __len__(self) -> int:
        self._windows.expire()
        return len(self._windows)
