"""``static_configs`` as a provider: one send of fixed groups, sources ``"0"``, ``"1"``, ..."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from promethean.scrape.discovery.targetgroup import StaticConfig, TargetGroup

__all__ = ["StaticDiscovery"]


class StaticDiscovery:
    """Sends its groups once, then idles until cancelled (as upstream's StaticProvider)."""

    def __init__(self, configs: Sequence[StaticConfig]) -> None:
        self.groups = [cfg.group(str(i)) for i, cfg in enumerate(configs)]

    async def run(self, send: Callable[[list[TargetGroup]], None]) -> None:
        send(list(self.groups))
        await asyncio.Event().wait()
