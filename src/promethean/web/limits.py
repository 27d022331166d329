"""Request-rate limits: upstream's global token bucket and the per-address login throttle.

Both are plain in-memory counters checked on the event loop, so refusing a
request costs microseconds: that is what keeps a flood from slowing others.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["LoginThrottle", "TokenBucket"]


class TokenBucket:
    """Go's ``rate.Limiter(Every(interval), burst)``: starts full; burst 0 admits nothing."""

    def __init__(
        self, interval: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = 1.0 / interval
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class LoginThrottle:
    """Failed basic-auth logins per client address within a fixed window.

    Once an address has ``max_failures`` failures in the current window it
    gets 429 without any bcrypt work until the window ends. Other addresses
    are unaffected. The table is bounded: the least recently failing
    addresses are forgotten first.
    """

    def __init__(
        self,
        max_failures: int,
        window: float,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window
        self._limit = max_addresses
        self._clock = clock
        # address -> (window start, failures)
        self._table: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def blocked_for(self, address: str) -> float:
        """Seconds this address must still wait; 0 when it may try."""
        entry = self._table.get(address)
        if entry is None:
            return 0.0
        start, failures = entry
        left = start + self._window - self._clock()
        if left <= 0:
            del self._table[address]
            return 0.0
        return left if failures >= self._max else 0.0

    def failed(self, address: str) -> None:
        now = self._clock()
        start, failures = self._table.pop(address, (now, 0))
        if start + self._window <= now:
            start, failures = now, 0
        self._table[address] = (start, failures + 1)
        while len(self._table) > self._limit:
            self._table.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._table.pop(address, None)
