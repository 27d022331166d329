"""``promethean stack``: every component that exists, in one process, zero setup.

This is what ``make run`` starts. Each component listens on its upstream
port (the server 9090, the Pushgateway 9091; Alertmanager 9093 is what the
server's alerting section points at), bound to 127.0.0.1 by default so that
trying promethean out does not expose unauthenticated admin surfaces to the
network.

The server runs on its built-in stack config: it scrapes itself and the
Pushgateway (``honor_labels: true``, so pushed ``job``/``instance`` labels
survive, as upstream recommends for a Pushgateway), and knows the
Alertmanager, which runs on a minimal built-in config (one receiver that
notifies nobody) written to ``alertmanager/alertmanager.yml`` unless
a file is already there, so operators can edit it and restart. The stack
owns the process's SIGINT/SIGTERM: they stop every component, and so does
``/-/quit`` on the server or on the Pushgateway.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from promethean.alertmanager import main as alertmanager_main
from promethean.logs import setup_logging
from promethean.pushgateway import main as pushgateway_main
from promethean.server import main as server_main
from promethean.server.config import PrometheusConfig


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen-host",
        dest="listen_host",
        default="127.0.0.1",
        help="interface every component binds to (default 127.0.0.1; 0.0.0.0 for all)",
    )
    parser.add_argument("--pushgateway.port", dest="pushgateway_port", type=int, default=9091)
    parser.add_argument("--server.port", dest="server_port", type=int, default=9090)
    parser.add_argument("--alertmanager.port", dest="alertmanager_port", type=int, default=9093)
    parser.add_argument(
        "--storage.tsdb.path",
        dest="tsdb_path",
        default="data/",
        help="the server's data directory (default data/)",
    )
    parser.add_argument(
        "--alertmanager.path",
        dest="alertmanager_path",
        default="alertmanager/",
        help="the Alertmanager's config and state directory (default alertmanager/)",
    )
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


_ALERTMANAGER_CONFIG = """\
# Written by `promethean stack`; edit it and restart the stack.
route:
  receiver: default
  group_by: [alertname]
receivers:
  - name: default
"""


def _alertmanager_args(args: argparse.Namespace) -> argparse.Namespace:
    home = Path(args.alertmanager_path)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "alertmanager.yml"
    if not config.exists():
        config.write_text(_ALERTMANAGER_CONFIG)
    sub = argparse.ArgumentParser(prog="promethean alertmanager")
    alertmanager_main.configure(sub)
    return sub.parse_args(
        [
            f"--web.listen-address={args.listen_host}:{args.alertmanager_port}",
            f"--config.file={config}",
            f"--storage.path={home / 'data'}",
            "--cluster.listen-address=",
            f"--log.level={args.log_level}",
            f"--log.format={args.log_format}",
        ]
    )


def _server_args(args: argparse.Namespace) -> argparse.Namespace:
    sub = argparse.ArgumentParser(prog="promethean server")
    server_main.configure(sub)
    return sub.parse_args(
        [
            f"--web.listen-address={args.listen_host}:{args.server_port}",
            f"--storage.tsdb.path={args.tsdb_path}",
            "--config.file=",
            f"--log.level={args.log_level}",
            f"--log.format={args.log_format}",
        ]
    )


def stack_config(
    host: str, server_port: int, pushgateway_port: int, am_port: int
) -> PrometheusConfig:
    """The server config of the stack: itself, the Pushgateway (honor_labels), the Alertmanager."""
    return PrometheusConfig.model_validate(
        {
            "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"{host}:{am_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "prometheus",
                    "static_configs": [{"targets": [f"{host}:{server_port}"]}],
                },
                {
                    "job_name": "pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"{host}:{pushgateway_port}"]}],
                },
            ],
        }
    )


async def _serve(args: argparse.Namespace) -> int:
    host = args.listen_host
    sargs = _server_args(args)
    server = server_main.Server(
        sargs,
        server_main.flag_table(_server_parser(), sargs),
        lambda: stack_config(host, args.server_port, args.pushgateway_port, args.alertmanager_port),
    )
    try:
        await server.start()
    except server_main.StartupError as exc:
        return exc.exit_code
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    components = {
        "pushgateway": asyncio.create_task(pushgateway_main.serve(_pushgateway_args(args), stop)),
        "alertmanager": asyncio.create_task(
            alertmanager_main.serve(_alertmanager_args(args), stop)
        ),
    }
    quit_wait = asyncio.create_task(server.wait())
    # The first of: a signal, the server's /-/quit, or any component ending on its own.
    await asyncio.wait(
        {quit_wait, asyncio.create_task(stop.wait()), *components.values()},
        return_when=asyncio.FIRST_COMPLETED,
    )
    stop.set()
    codes = [await task for task in components.values()]
    quit_wait.cancel()
    await server.stop()
    return next((c for c in codes if c), 0) or server.exit_code


def _server_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promethean server")
    server_main.configure(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        setup_logging(args.log_level, args.log_format)
    except ValueError as exc:
        print(f"promethean stack: error: {exc}", file=sys.stderr)
        return 2
    host = args.listen_host
    url = f"http://{host}:{args.server_port}"
    print(f"promethean stack: Prometheus server at {url}/ (API {url}/api/v1/query)")
    print(f"promethean stack: Pushgateway at http://{host}:{args.pushgateway_port}/metrics")
    print(f"promethean stack: Alertmanager at http://{host}:{args.alertmanager_port}/api/v2/status")
    print("First queries to try:")
    print(f"  curl -sG {url}/api/v1/query --data-urlencode 'query=up'")
    print(
        f"  curl -sG {url}/api/v1/query --data-urlencode "
        "'query=rate(prometheus_http_requests_total[1m])'"
    )
    print(f"  curl -sG {url}/api/v1/query --data-urlencode 'query=prometheus_tsdb_head_series'")
    print(
        "Push a sample:  echo 'demo_metric 42' | curl --data-binary @- "
        f"http://{host}:{args.pushgateway_port}/metrics/job/demo"
    )
    print("Stop with Ctrl-C.", flush=True)
    return asyncio.run(_serve(args))
