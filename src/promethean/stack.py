"""``promethean stack``: every component that exists, in one process, zero setup.

This is what ``make run`` starts. Each component listens on its upstream
port (Pushgateway 9091; the server 9090 and Alertmanager 9093 join as they
land), bound to 127.0.0.1 by default so that trying promethean out does not
expose unauthenticated admin surfaces to the network.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from promethean.logs import setup_logging
from promethean.pushgateway import main as pushgateway_main


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen-host",
        dest="listen_host",
        default="127.0.0.1",
        help="interface every component binds to (default 127.0.0.1; 0.0.0.0 for all)",
    )
    parser.add_argument("--pushgateway.port", dest="pushgateway_port", type=int, default=9091)
    parser.add_argument("--log.level", dest="log_level", default="info")
    parser.add_argument("--log.format", dest="log_format", default="logfmt")


def _pushgateway_args(args: argparse.Namespace) -> argparse.Namespace:
    sub = argparse.ArgumentParser()
    pushgateway_main.configure(sub)
    return sub.parse_args(
        [
            f"--web.listen-address={args.listen_host}:{args.pushgateway_port}",
            f"--log.level={args.log_level}",
            f"--log.format={args.log_format}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    try:
        setup_logging(args.log_level, args.log_format)
    except ValueError as exc:
        print(f"promethean stack: error: {exc}", file=sys.stderr)
        return 2
    host = args.listen_host
    print(f"promethean stack: Pushgateway at http://{host}:{args.pushgateway_port}/metrics")
    print(
        "Push a sample:  echo 'demo_metric 42' | curl --data-binary @- "
        f"http://{host}:{args.pushgateway_port}/metrics/job/demo"
    )
    print("Stop with Ctrl-C.", flush=True)
    return asyncio.run(pushgateway_main.serve(_pushgateway_args(args)))
