"""Entry point of ``promethean tool tsdb list``; the command lives in ``tool.py``."""

from promethean.tsdb.tool import configure_list as configure
from promethean.tsdb.tool import run_list as run

__all__ = ["configure", "run"]
