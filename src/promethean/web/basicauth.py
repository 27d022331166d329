"""HTTP basic auth against bcrypt hashes, safe under load and against CVE-2022-46146.

* bcrypt runs in a small thread pool, behind a semaphore: a flood of bad
  logins queues there and never blocks the event loop, so requests that need
  no bcrypt (exempt paths, cached logins, other endpoints) keep flowing.
* An unknown user costs the same bcrypt work as a known one (a dummy hash of
  the cost most users have), so timing does not reveal which users exist.
* Only successes are cached. The key is the tuple (user, stored hash,
  HMAC-SHA256 of the offered password under a per-process key): separate
  fields, so no user name or password can be crafted to collide with another
  entry (the CVE-2022-46146 bypass concatenated them), a changed hash misses
  the cache, and the cache never holds a fast unsalted hash of a password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from promethean.web.webconfig import bcrypt_cost

__all__ = ["BasicAuthenticator", "parse_basic_auth"]

_BCRYPT_MAX_PASSWORD = 72


def parse_basic_auth(header: str | None) -> tuple[str, bytes] | None:
    """(user, password) from an Authorization header, as Go's ``Request.BasicAuth``."""
    if not header or len(header) < 6 or header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:], validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "surrogateescape"), password


class BasicAuthenticator:
    """Checks credentials against a user table; one instance per server."""

    def __init__(self, max_concurrent: int | None = None, cache_size: int = 1024) -> None:
        workers = max_concurrent or max(1, min(4, os.cpu_count() or 1))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt")
        self._slots = asyncio.Semaphore(workers)
        self._cache: OrderedDict[tuple[str, bytes, bytes], None] = OrderedDict()
        self._cache_size = cache_size
        self._key = secrets.token_bytes(32)
        self._dummy: dict[int, bytes] = {}
        self._dummy_lock = threading.Lock()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _digest(self, password: bytes) -> bytes:
        return hmac.new(self._key, password, hashlib.sha256).digest()

    def cached(self, users: Mapping[str, bytes], user: str, password: bytes) -> bool:
        """True when this exact (user, current hash, password) succeeded before."""
        stored = users.get(user)
        if stored is None:
            return False
        key = (user, stored, self._digest(password))
        if key in self._cache:
            self._cache.move_to_end(key)
            return True
        return False

    async def check(self, users: Mapping[str, bytes], user: str, password: bytes) -> bool:
        """Whether ``password`` is ``user``'s; costs one bcrypt unless cached."""
        if self.cached(users, user, password):
            return True
        stored = users.get(user)
        loop = asyncio.get_running_loop()
        async with self._slots:
            ok = await loop.run_in_executor(self._executor, self._compare, users, stored, password)
        if ok and stored is not None:
            self._cache[(user, stored, self._digest(password))] = None
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ok

    def _compare(self, users: Mapping[str, bytes], stored: bytes | None, password: bytes) -> bool:
        too_long = len(password) > _BCRYPT_MAX_PASSWORD
        if stored is None or too_long:
            # Same work as a real check, result thrown away. Over-long
            # passwords fail as in Go (bcrypt would silently truncate them).
            bcrypt.checkpw(password[:_BCRYPT_MAX_PASSWORD], self._dummy_hash(users))
            return False
        try:
            return bcrypt.checkpw(password, stored)
        except ValueError:
            return False

    def _dummy_hash(self, users: Mapping[str, bytes]) -> bytes:
        costs = Counter(bcrypt_cost(h) for h in users.values())
        cost = max(costs.items(), key=lambda kv: (kv[1], -kv[0]))[0] if costs else 10
        with self._dummy_lock:
            dummy = self._dummy.get(cost)
            if dummy is None:
                dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost))
                self._dummy[cost] = dummy
        return dummy
