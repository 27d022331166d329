"""Service discovery: static, file and HTTP providers, and the manager that runs them.

Every provider yields :class:`TargetGroup` lists keyed by source; the
:class:`DiscoveryManager` merges them per scrape job and publishes
``dict[job_name, list[TargetGroup]]`` whenever something changed.
"""

from promethean.scrape.discovery.targetgroup import StaticConfig, TargetGroup

__all__ = ["StaticConfig", "TargetGroup"]
