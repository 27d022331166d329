"""``promethean tool query instant|range|series|labels SERVER ...``: promtool's query commands.

Same arguments, defaults and output as ``promtool query`` (2.42): ``-o promql``
prints values as the Go client's ``String()`` methods do
(``up{instance="a", job="x"} => 1 @[1700000000]``), ``-o json`` prints the
API's ``data`` as JSON; an API error goes to stderr as ``query error:
<errorType>: <message>`` with exit status 1. Scripts written for promtool
keep working when the binary name changes, against a Go server or ours.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from promethean.model.names import promql_quote
from promethean.server.api_json import format_sample_value
from promethean.server.api_params import parse_duration_param, parse_time

__all__ = ["configure", "format_promql", "run"]

_TIMEOUT_S = 120.0


class _QueryError(Exception):
    pass


def _time_arg(text: str) -> int:
    """promtool's time flags: Unix seconds (fraction allowed) or RFC3339; milliseconds."""
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"error parsing time {text!r}") from None


def _step_arg(text: str) -> int:
    try:
        return parse_duration_param(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="query_kind", metavar="instant|range|series|labels")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-o", "--format", dest="format", choices=("promql", "json"), default="promql"
        )
        p.add_argument("--header", action="append", default=[], metavar="HEADER")

    inst = sub.add_parser("instant", help="run an instant query")
    common(inst)
    inst.add_argument("--time", type=_time_arg, default=None)
    inst.add_argument("server")
    inst.add_argument("expr")

    rng = sub.add_parser("range", help="run a range query")
    common(rng)
    rng.add_argument("--start", type=_time_arg, default=None)
    rng.add_argument("--end", type=_time_arg, default=None)
    rng.add_argument("--step", type=_step_arg, default=0)
    rng.add_argument("server")
    rng.add_argument("expr")

    ser = sub.add_parser("series", help="find series by selectors")
    common(ser)
    ser.add_argument("--match", action="append", default=[], required=True)
    ser.add_argument("--start", type=_time_arg, default=None)
    ser.add_argument("--end", type=_time_arg, default=None)
    ser.add_argument("server")

    lab = sub.add_parser("labels", help="list the values of a label")
    common(lab)
    lab.add_argument("--start", type=_time_arg, default=None)
    lab.add_argument("--end", type=_time_arg, default=None)
    lab.add_argument("--match", action="append", default=[])
    lab.add_argument("server")
    lab.add_argument("name")


def _seconds(ms: int) -> str:
    return _go_float(ms / 1000)


def _go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` (``+Inf``, ``NaN`` as the client prints)."""
    return format_sample_value(value)


def _metric(labels: dict[str, str]) -> str:
    name = labels.get("__name__")
    rest = sorted(f"{k}={promql_quote(v)}" for k, v in labels.items() if k != "__name__")
    if not rest:
        return name if name is not None else "{}"
    return f"{name or ''}{{{', '.join(rest)}}}"


def _label_set(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={promql_quote(labels[k])}" for k in sorted(labels)) + "}"


def _pair(point: list[Any]) -> str:
    ts = float(point[0])
    return f"{_value(point[1])} @[{_go_float(ts)}]"


def _value(text: str) -> str:
    try:
        return _go_float(float(text))
    except ValueError:
        return text


def format_promql(data: dict[str, Any]) -> str:
    """A query's ``data`` as promtool prints it (the Go client's ``Value.String()``)."""
    kind = data["resultType"]
    result = data["result"]
    if kind == "vector":
        return "\n".join(f"{_metric(s['metric'])} => {_pair(s['value'])}" for s in result)
    if kind == "matrix":
        streams = sorted(result, key=lambda s: sorted(s["metric"].items()))
        return "\n".join(
            f"{_metric(s['metric'])} =>\n" + "\n".join(_pair(p) for p in s["values"])
            for s in streams
        )
    if kind == "scalar":
        return f"scalar: {_value(result[1])} @[{_go_float(float(result[0]))}]"
    return f"{promql_quote(result[1])} @[{_go_float(float(result[0]))}]"


def _call(
    server: str, path: str, params: list[tuple[str, str]], headers: list[str], get: bool = False
) -> Any:
    url = server.rstrip("/") + "/api/v1/" + path
    body: bytes | None = urllib.parse.urlencode(params).encode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
    if get:
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body, hdrs = None, {}
    for item in headers:
        name, _, value = item.partition("=")
        hdrs[name.strip()] = value.strip()
    req = urllib.request.Request(url, data=body, headers=hdrs, method="GET" if get else "POST")
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            raise _QueryError(f"server returned HTTP status {err.code} {err.reason}") from None
        raise _QueryError(f"{doc.get('errorType', '')}: {doc.get('error', '')}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise _QueryError(f'Post "{url}": {reason}') from None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise _QueryError("invalid JSON in the server's answer") from None
    if doc.get("status") != "success":
        raise _QueryError(f"{doc.get('errorType', '')}: {doc.get('error', '')}")
    return doc.get("data")


def _range_args(args: argparse.Namespace) -> list[tuple[str, str]]:
    out = []
    if args.start is not None:
        out.append(("start", _seconds(args.start)))
    if args.end is not None:
        out.append(("end", _seconds(args.end)))
    return out


def _print(args: argparse.Namespace, data: Any, lines: list[str] | None = None) -> None:
    if args.format == "json":
        print(json.dumps(data, separators=(",", ":")))
        return
    if lines is not None:
        for line in lines:
            print(line)
        return
    print(format_promql(data))


def run(args: argparse.Namespace) -> int:
    try:
        if args.query_kind == "instant":
            when = args.time if args.time is not None else int(time.time() * 1000)
            params = [("query", args.expr), ("time", _seconds(when))]
            _print(args, _call(args.server, "query", params, args.header))
        elif args.query_kind == "range":
            end = args.end if args.end is not None else int(time.time() * 1000)
            start = args.start if args.start is not None else end - 300_000
            step = args.step
            if step == 0:
                step = int(max(math.floor((end - start) / 1000 / 250), 1)) * 1000
            params = [
                ("query", args.expr),
                ("start", _seconds(start)),
                ("end", _seconds(end)),
                ("step", _go_float(step / 1000)),
            ]
            _print(args, _call(args.server, "query_range", params, args.header))
        elif args.query_kind == "series":
            params = [("match[]", m) for m in args.match] + _range_args(args)
            data = _call(args.server, "series", params, args.header)
            _print(args, data, [_label_set(s) for s in data])
        else:
            params = [("match[]", m) for m in args.match] + _range_args(args)
            path = f"label/{urllib.parse.quote(args.name, safe='')}/values"
            data = _call(args.server, path, params, args.header, get=True)
            _print(args, data, [str(v) for v in data])
    except _QueryError as exc:
        print(f"query error: {exc}", file=sys.stderr)
        return 1
    return 0
