"""``promethean tool check alertmanager-config FILE...``: ``amtool check-config``'s job.

Same output and exit codes as amtool 0.25, so scripts and CI jobs that run
it keep working: a ``Checking 'FILE'  SUCCESS`` block listing what was found
(and the template files' result when there are ``templates:``), or
``Checking 'FILE'  FAILED: <why>``; exit 0 when every file is valid, 1
otherwise, with ``failed to validate N file(s)`` on stderr. With no file
the config is read from standard input. The reason for a failure carries the
file, line and field, which amtool's does not.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from promethean.alertmanager.config import load_alertmanager_config
from promethean.config import ConfigError
from promethean.template import TemplateError
from promethean.template.alertmanager_funcs import NotificationTemplates

__all__ = ["check_file", "configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="alertmanager.yml files to check (standard input when none is given)",
    )


def check_file(path: str, out: TextIO) -> bool:
    """Check one file, writing amtool's report for it; True when it is valid."""
    out.write(f"Checking '{path}'")
    try:
        cfg = load_alertmanager_config(path)
    except ConfigError as exc:
        out.write(f"  FAILED: {exc}\n\n")
        return False
    out.write("  SUCCESS\nFound:\n")
    out.write(" - global config\n")
    if cfg.route is not None:
        out.write(" - route\n")
    out.write(f" - {len(cfg.inhibit_rules)} inhibit rules\n")
    out.write(f" - {len(cfg.receivers)} receivers\n")
    out.write(f" - {len(cfg.templates)} templates\n")
    ok = True
    if cfg.templates:
        try:
            NotificationTemplates.from_globs(cfg.templates)
        except TemplateError as exc:
            out.write(f"  FAILED: {exc}\n")
            ok = False
        else:
            out.write("  SUCCESS\n")
    out.write("\n")
    return ok


def run(args: argparse.Namespace) -> int:
    prog = "promethean tool check alertmanager-config"
    files: list[str] = list(args.files) or ["/dev/stdin"]
    for path in files:
        if not os.path.exists(path):
            print(f"{prog}: error: path '{path}' does not exist", file=sys.stderr)
            return 1
    failed = sum(0 if check_file(path, sys.stdout) else 1 for path in files)
    sys.stdout.flush()
    if failed:
        print(f"{prog}: error: failed to validate {failed} file(s)", file=sys.stderr)
        return 1
    return 0
