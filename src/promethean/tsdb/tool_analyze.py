"""Entry point of ``promethean tool tsdb analyze``; the command lives in ``tool.py``."""

from promethean.tsdb.tool import configure_analyze as configure
from promethean.tsdb.tool import run_analyze as run

__all__ = ["configure", "run"]
