"""Entry point of ``promethean tool tsdb create-blocks-from openmetrics`` (see ``tool.py``)."""

from promethean.tsdb.tool import configure_create as configure
from promethean.tsdb.tool import run_create as run

__all__ = ["configure", "run"]
