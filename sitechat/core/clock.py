"""Time comes from here, so tests can move through billing periods and token expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time; `FrozenClock` in tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at


clock: Clock = Clock()


def utcnow() -> datetime:
    return clock.now()


def use_clock(replacement: Clock) -> Clock:
    """Swap the process clock (tests); returns the previous one so it can be restored."""
    global clock
    previous, clock = clock, replacement
    return previous
