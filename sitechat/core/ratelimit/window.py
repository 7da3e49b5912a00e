"""The sliding window counter: the one place that defines how a bucket admits a request.

The rule (limits' `SlidingWindowCounterRateLimiter`, which both storages follow):
- A bucket counts two windows of `window` seconds: the current one and the one before. The
  first hit of an empty bucket starts a window; when a window is over the next one starts
  right after it and the count becomes the previous window's; a bucket with no window left
  (two windows after its current one began) is empty.
- The previous window is assumed to have been spread evenly, so its weight fades linearly to
  zero over the current window: `previous_ttl` is the time until the current window ends.
- `weighted = floor(previous * previous_ttl / window) + current`; a check of `cost` units is
  admitted when `cost <= limit and weighted + cost <= limit`, and then adds `cost` to the
  current window. A denied check changes nothing.

Those two expressions are written once, below, as text that is valid Python and Lua: the
Redis script (`HIT_AND_REPORT_LUA`) is generated from them and `weighted_count` and `admits`
spell them out (a test holds the three together). `memory.py` and `redis.py` only keep the
state; `WindowState` answers what the headers need from it, including the inverse of the rule
(`seconds_until_fits`, for Retry-After).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# Valid in Python and in Lua; the names are the arguments of `weighted_count` and `admits`.
WEIGHTED_COUNT_EXPRESSION: Final = "math.floor(previous * previous_ttl / window) + current"
ADMITS_EXPRESSION: Final = "cost <= limit and weighted + cost <= limit"


def weighted_count(previous: int, previous_ttl: float, window: float, current: int) -> int:
    """The bucket's count: the current window plus what is left of the previous one."""
    return math.floor(previous * previous_ttl / window) + current


def admits(weighted: int, limit: int, cost: int) -> bool:
    """Whether `cost` more units fit under `limit`."""
    return cost <= limit and weighted + cost <= limit


@dataclass(frozen=True, slots=True)
class Check:
    """One check of a bucket, as the Lua script and `LocalWindows` take it."""

    key: str
    limit: int
    window: int
    cost: int


@dataclass(frozen=True, slots=True)
class WindowState:
    """A sliding window counter as both storages report it (TTLs in seconds).

    The current window ends `current_ttl - window` seconds from now; from then on its count
    becomes the previous window's, whose weight fades linearly to zero over one window.
    """

    window: int
    previous: int
    previous_ttl: float
    current: int
    current_ttl: float

    def weighted_count(self) -> int:
        return weighted_count(self.previous, self.previous_ttl, self.window, self.current)

    def seconds_until_window_ends(self) -> float:
        """Until the current window ends (at most one window): what `RateLimit-Reset` says
        while units remain."""
        if self.current:
            return min(max(self.current_ttl - self.window, 0.0), float(self.window))
        return min(self.previous_ttl, float(self.window))

    def seconds_until_fits(self, limit: int, cost: int) -> float:
        """When `cost` more units fit (`floor(weighted) + cost <= limit`), with no other hits."""
        budget = limit - cost + 1  # the weighted count must fall below this
        if budget <= 0:
            return float(2 * self.window)
        current_ends = max(self.current_ttl - self.window, 0.0)
        if self.current < budget:
            if not self.previous:
                return 0.0
            fading_done = self.previous_ttl - (budget - self.current) * self.window / self.previous
            if fading_done < current_ends:
                return max(fading_done, 0.0)
        if not self.current:
            return current_ends
        return max(current_ends, current_ends + self.window * (1 - budget / self.current))


# Consume `cost` from sliding window counters and report each window, for a batch of checks in
# one round trip. Per check: KEYS previous "{k}/-1" and current "{k}" (limits' layout, so limits'
# own `get_window_stats` reads the same state), ARGV limit, window seconds and cost; checked in
# order, so a bucket twice in a batch counts twice. The windows are the keys' TTLs, taken from
# Redis' clock only: the current key lives two windows from its window's start, so a TTL below
# one window means that window is over. Reply: one string, per check
# "allowed previous previous_ttl_ms current current_ttl_ms", checks separated by ",".
HIT_AND_REPORT_LUA: Final = f"""
local function weighted_count(previous, previous_ttl, window, current)
    return {WEIGHTED_COUNT_EXPRESSION}
end
local function admits(weighted, limit, cost)
    return {ADMITS_EXPRESSION}
end

local replies = {{}}
for check = 1, #KEYS / 2 do
    local previous_key, current_key = KEYS[2 * check - 1], KEYS[2 * check]
    local limit = tonumber(ARGV[3 * check - 2])
    local window = tonumber(ARGV[3 * check - 1]) * 1000  -- milliseconds, as PTTL counts
    local cost = tonumber(ARGV[3 * check])

    local current_ttl = redis.call('pttl', current_key)
    if current_ttl > 0 and current_ttl < window then
        -- the current window is over: it becomes the previous one
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + window)
    end

    local previous = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = math.max(redis.call('pttl', previous_key), 0)
    local current = tonumber(redis.call('get', current_key)) or 0
    current_ttl = math.max(redis.call('pttl', current_key), 0)

    local allowed = 0
    if admits(weighted_count(previous, previous_ttl, window, current), limit, cost) then
        allowed = 1
        if redis.call('exists', current_key) == 1 then
            current = redis.call('incrby', current_key, cost)
        else
            redis.call('set', current_key, cost, 'PX', window * 2)
            current = cost
            current_ttl = window * 2
        end
    end
    replies[check] = table.concat({{allowed, previous, previous_ttl, current, current_ttl}}, ' ')
end
return table.concat(replies, ',')
"""
