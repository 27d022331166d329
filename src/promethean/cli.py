"""``promethean`` command: subcommand dispatch only.

Each command lives in the module that owns it and exposes two functions:
``configure(parser)`` adds its flags, ``run(args) -> int`` does the work. Only
the chosen command's module is imported, so ``promethean tool ...`` starts
fast and one component's import cost never burdens another.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from promethean import __version__

# Command path -> (module, one-line help). Add a line when a command lands.
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("stack",): ("promethean.stack", "run every component that exists in one process"),
    ("server",): ("promethean.server.main", "the Prometheus server (flags as upstream's)"),
    ("pushgateway",): ("promethean.pushgateway.main", "the Pushgateway (flags as upstream's)"),
    ("alertmanager",): ("promethean.alertmanager.main", "the Alertmanager (flags as upstream's)"),
    ("tool", "check", "metrics"): ("promethean.model.check", "lint metrics like promtool"),
    ("tool", "tsdb", "create-blocks-from", "openmetrics"): (
        "promethean.tsdb.tool_create_blocks",
        "import OpenMetrics samples into blocks like promtool",
    ),
    ("tool", "tsdb", "list"): ("promethean.tsdb.tool_list", "list the blocks of a data directory"),
    ("tool", "tsdb", "analyze"): (
        "promethean.tsdb.tool_analyze",
        "cardinality and churn of a block",
    ),
    ("tool", "promqltest"): ("promethean.promql.tool", "run PromQL test scripts"),
    ("tool", "query"): ("promethean.server.tool_query", "query a server like promtool query"),
    ("tool", "check", "config"): (
        "promethean.server.tool_check_config",
        "validate prometheus.yml files like promtool check config",
    ),
    ("tool", "check", "alertmanager-config"): (
        "promethean.alertmanager.check",
        "validate alertmanager.yml files like amtool check-config",
    ),
    ("tool", "check", "web-config"): (
        "promethean.web.check",
        "validate --web.config.file files like promtool check web-config",
    ),
}


class FlagParser(argparse.ArgumentParser):
    """argparse that lists the valid flags when it meets an unknown one, as operators expect."""

    def error(self, message: str) -> NoReturn:
        flags = sorted(
            opt
            for action in self._actions
            for opt in action.option_strings
            if opt.startswith("--") and opt != "--help"
        )
        hint = f"\nvalid flags: {', '.join(flags)}" if flags else ""
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def _children(prefix: tuple[str, ...]) -> dict[str, str]:
    """Next words after ``prefix`` with their help (a group's help is its first command's)."""
    out: dict[str, str] = {}
    for path, (_module, help_text) in COMMANDS.items():
        if len(path) > len(prefix) and path[: len(prefix)] == prefix:
            word = path[len(prefix)]
            out.setdefault(word, help_text if len(path) == len(prefix) + 1 else "…")
    return out


def _usage(prefix: tuple[str, ...]) -> str:
    name = " ".join(("promethean", *prefix))
    lines = [f"usage: {name} COMMAND [flags]", "", "commands:"]
    for word, help_text in sorted(_children(prefix).items()):
        lines.append(f"  {word:<14} {help_text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--version", "version"):
        print(f"promethean, version {__version__}")
        return 0
    prefix: tuple[str, ...] = ()
    while prefix not in COMMANDS:
        word = args[0] if args else None
        if word is None or word in ("-h", "--help", "help"):
            print(_usage(prefix))
            return 0 if word else 2
        if word not in _children(prefix):
            print(f"promethean: unknown command {' '.join((*prefix, word))!r}\n", file=sys.stderr)
            print(_usage(prefix), file=sys.stderr)
            return 2
        prefix = (*prefix, args.pop(0))
    module_name, help_text = COMMANDS[prefix]
    module = importlib.import_module(module_name)
    parser = FlagParser(prog=" ".join(("promethean", *prefix)), description=help_text)
    module.configure(parser)
    ns = parser.parse_args(args)
    try:
        return int(module.run(ns))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
