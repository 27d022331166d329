"""The live web config: re-read when the file or any file it names changes (T5, S2).

Checking is cheap (a few ``stat`` calls) and done at most once per interval,
from the request and connection paths, so a new user or a renewed
certificate is in use within about a second without a restart. A new
version that does not validate is logged (component=web) and ignored: the
previous config keeps serving. (Upstream instead answers every request with
500 until the file is fixed; promethean follows SECURITY-MODEL S2.)
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promethean.config import ConfigError
from promethean.logs import kv
from promethean.web.limits import LoginThrottle, TokenBucket
from promethean.web.tlscontext import TLSSetupError, build_ssl_context
from promethean.web.webconfig import WebConfig, load_web_config

__all__ = ["WebConfigWatcher", "WebState", "load_web_state"]

log = logging.getLogger("promethean.web")

_Signature = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class WebState:
    """Everything the request path needs from one validated config."""

    config: WebConfig
    ssl_context: ssl.SSLContext | None
    users: dict[str, bytes]
    headers: tuple[tuple[str, str], ...]
    exempt_paths: frozenset[str]
    allowed_sans: frozenset[str] | None
    limiter: TokenBucket | None = field(compare=False)
    throttle: LoginThrottle | None = field(compare=False)
    files: tuple[Path, ...] = ()

    @property
    def tls(self) -> bool:
        return self.ssl_context is not None


def _state_from(config: WebConfig, files: tuple[Path, ...], old: WebState | None) -> WebState:
    tls = config.tls_server_config
    ctx: ssl.SSLContext | None = None
    watched = files
    if tls.enabled:
        try:
            ctx = build_ssl_context(tls)
        except TLSSetupError as exc:
            raise ConfigError(f"{files[0]}: tls_server_config: {exc}") from None
        watched = files + tls.material.files
    limiter = None
    if config.rate_limit.interval > 0:
        keep = old is not None and old.config.rate_limit == config.rate_limit
        limiter = old.limiter if keep and old is not None else None
        limiter = limiter or TokenBucket(config.rate_limit.interval, config.rate_limit.burst)
    throttle = None
    if config.basic_auth_throttle is not None:
        same = old is not None and old.config.basic_auth_throttle == config.basic_auth_throttle
        throttle = old.throttle if same and old is not None else None
        throttle = throttle or LoginThrottle(
            config.basic_auth_throttle.max_failures, config.basic_auth_throttle.interval
        )
    sans = tls.client_allowed_sans
    return WebState(
        config=config,
        ssl_context=ctx,
        users=config.users,
        headers=config.http_server_config.response_headers,
        exempt_paths=frozenset(config.auth_exempt_paths),
        allowed_sans=frozenset(sans) if sans is not None else None,
        limiter=limiter,
        throttle=throttle,
        files=watched,
    )


def load_web_state(path: str | Path | None) -> WebState:
    """Validate a web config file completely (TLS context included); raises ConfigError."""
    if not path:
        return _state_from(WebConfig(), (), None)
    config = load_web_config(path)
    return _state_from(config, (Path(path),), None)


def _signature(files: tuple[Path, ...]) -> _Signature:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((str(f), -1, -1, -1))
    return tuple(out)


class WebConfigWatcher:
    """Holds the current :class:`WebState` and swaps it when its files change."""

    def __init__(
        self,
        path: str | Path | None,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = Path(path) if path else None
        self._interval = check_interval
        self._clock = clock
        self._state = load_web_state(self._path)
        self._seen = _signature(self._state.files)
        self._next_check = clock() + check_interval
        self.reloads = 0
        self.failures = 0

    @property
    def state(self) -> WebState:
        return self._state

    def maybe_reload(self) -> None:
        """Reload if the interval passed and a watched file changed. Never raises."""
        if self._path is None:
            return
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + self._interval
        sig = _signature(self._state.files)
        if sig == self._seen:
            return
        self._seen = sig
        self.reload()

    def reload(self) -> bool:
        """Re-read now; False (and the old config kept) when the new one is invalid."""
        if self._path is None:
            return True
        try:
            config = load_web_config(self._path)
            state = _state_from(config, (self._path,), self._state)
            if state.tls != self._state.tls:
                raise ConfigError(
                    f"{self._path}: TLS can not be turned "
                    f"{'on' if state.tls else 'off'} without a restart"
                )
        except ConfigError as exc:
            self.failures += 1
            log.error(
                "Unable to reload web configuration, keeping the previous one",
                extra=kv(component="web", file=str(self._path), err=str(exc)),
            )
            return False
        except Exception as exc:  # never let a reload take the server down
            self.failures += 1
            log.error(
                "Unable to reload web configuration, keeping the previous one",
                extra=kv(component="web", file=str(self._path), err=type(exc).__name__),
            )
            return False
        self._state = state
        self._seen = _signature(state.files)
        self.reloads += 1
        log.info("Web configuration reloaded", extra=kv(component="web", file=str(self._path)))
        return True
