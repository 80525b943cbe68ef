"""Keys seen within a time window, bounded in number: what answers a repeated delivery once (a replayed signed
request, an event delivered twice)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Recent:
    def __init__(self, window_s: float, limit: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._window, self._limit, self._clock = window_s, limit, clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def claim(self, key: Hashable) -> bool:
        """True the first time `key` is seen inside the window; False for a repeat. Claimed synchronously, so two
        concurrent deliveries cannot both pass."""
        now = self._clock()
        while self._seen and (next(iter(self._seen.values())) < now - self._window or len(self._seen) >= self._limit):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def forget(self, key: Hashable) -> None:
        self._seen.pop(key, None)
