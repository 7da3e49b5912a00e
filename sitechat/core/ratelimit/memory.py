"""Sliding window counters in this process's memory, for one process without Redis.

About 2 us a check on a dict, where limits' `MemoryStorage` took two calls through its locks
and expiry bookkeeping. The rule is `window.py`'s; this module only keeps the state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sitechat.core.ratelimit.window import Check, WindowState, admits, weighted_count


class LocalWindows:
    """Sliding window counters in this process's memory, by the rule in `window.py`.

    A window begins at the first hit of a bucket and the next one right after it; a bucket is
    forgotten two windows after its last window began, by a sweep every `SWEEP_SECONDS`.
    """

    SWEEP_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> [start of the current window, previous count, current count, window]
        self._windows: dict[str, list[float]] = {}
        self._next_sweep = clock() + self.SWEEP_SECONDS

    def hit(self, check: Check) -> tuple[bool, WindowState]:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        window = check.window
        entry = self._windows.get(check.key)
        if entry is None or now >= entry[0] + 2 * window:
            start, previous, current = now, 0, 0
        elif now >= entry[0] + window:  # the current window is over: it becomes the previous
            start, previous, current = entry[0] + window, int(entry[2]), 0
        else:
            start, previous, current = entry[0], int(entry[1]), int(entry[2])
        previous_ttl = max(start + window - now, 0.0)
        allowed = admits(
            weighted_count(previous, previous_ttl, window, current), check.limit, check.cost
        )
        if allowed:
            current += check.cost
        if allowed or entry is not None:
            self._windows[check.key] = [start, previous, current, window]
            current_ttl = start + 2 * window - now
        else:
            current_ttl = 0.0
        return allowed, WindowState(window, previous, previous_ttl, current, current_ttl)

    def _sweep(self, now: float) -> None:
        expired = [key for key, entry in self._windows.items() if now >= entry[0] + 2 * entry[3]]
        for key in expired:
            del self._windows[key]
        self._next_sweep = now + self.SWEEP_SECONDS
