"""Service discovery: static, file and HTTP providers, and the manager that runs them.

Every provider yields :class:`TargetGroup` lists keyed by source; the
:class:`DiscoveryManager` merges them per scrape job and publishes
``dict[job_name, list[TargetGroup]]`` whenever something changed.
"""

from promethean.scrape.discovery.targetgroup import StaticConfig, TargetGroup

__all__ = [
    "DiscoveryManager",
    "FileDiscovery",
    "FileSDConfig",
    "HTTPDiscovery",
    "HTTPSDConfig",
    "StaticConfig",
    "StaticDiscovery",
    "TargetGroup",
]


def __getattr__(name: str) -> object:
    # The manager and providers import scrape.config, which imports this package:
    # load them on first use to keep the import graph acyclic.
    import importlib

    homes = {
        "DiscoveryManager": "manager",
        "FileDiscovery": "file",
        "FileSDConfig": "file",
        "HTTPDiscovery": "http",
        "HTTPSDConfig": "http",
        "StaticDiscovery": "static",
    }
    if name in homes:
        module = importlib.import_module(f"promethean.scrape.discovery.{homes[name]}")
        return getattr(module, name)
    raise AttributeError(name)
