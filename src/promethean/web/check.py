"""``promethean tool check web-config FILE...``: promtool's check, same output.

Each file is loaded exactly as a server would load it (certificates, keys
and CA files read, TLS context built), so SUCCESS means the server will start.
"""

from __future__ import annotations

import argparse
import sys

from promethean.config import ConfigError
from promethean.web.server import validate_web_config_file


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="web config files to check")


def run(args: argparse.Namespace) -> int:
    failed = False
    for name in args.files:
        try:
            validate_web_config_file(name)
        except ConfigError as exc:
            failed = True
            print(f"{name} FAILED: {exc}", file=sys.stderr)
            continue
        print(f"{name} SUCCESS")
    return 1 if failed else 0
