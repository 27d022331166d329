"""The query endpoints: ``query``, ``query_range``, ``query_exemplars``, ``format_query``,
``parse_query``.

Security model D1: PromQL evaluation never runs on the event loop. Queries go
to a thread pool with ``--query.max-concurrency`` workers, so scrapes,
ingestion and cheap endpoints keep their pace however heavy the queries are.
Time spent waiting for a worker counts against the query's timeout (as
upstream's queue does): a query that never gets a worker in time fails with
``query timed out in query queue``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web

from promethean.logs import kv
from promethean.promql import ast
from promethean.promql.engine import QueryError, QueryResult
from promethean.promql.prettier import prettify
from promethean.server.api_ast import ast_to_json
from promethean.server.api_json import query_data_json, raw_success
from promethean.server.api_params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    ApiError,
    Form,
    invalid_param,
    parse_duration_param,
    parse_time,
    time_param,
)
from promethean.web import api_success

if TYPE_CHECKING:
    from promethean.server.context import ServerContext

__all__ = ["MAX_POINTS", "QueryRunner"]

log = logging.getLogger("promethean.server.api")

T = TypeVar("T")

#: Upstream's per-series point limit for range queries.
MAX_POINTS = 11000


class QueryRunner:
    """Runs PromQL off the event loop under the server's limits."""

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        workers = max(1, ctx.options.query_max_concurrency)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="promql")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (an index lookup, a cardinality count) in the query pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def _timeout(self, form: Form) -> float:
        limit = self._ctx.engine.options.timeout_s
        text = form.get("timeout")
        if text == "":
            return limit
        try:
            requested = parse_duration_param(text) / 1000.0
        except ValueError as exc:
            raise invalid_param("timeout", str(exc)) from None
        return min(limit, requested) if requested > 0 else limit

    async def _run(
        self, text: str, start: int, end: int, step: int, timeout: float, instant: bool
    ) -> QueryResult:
        ctx = self._ctx
        engine = ctx.engine
        storage = ctx.db
        if storage is None:
            raise ApiError("unavailable", "TSDB not ready")
        submitted = time.monotonic()
        ticket = ctx.query_load.submit()

        def work() -> QueryResult:
            queued = time.monotonic() - submitted
            left = timeout - queued
            if left <= 0:
                ticket.abandon()
                raise QueryError("timeout", "query timed out in query queue")
            if not ticket.start(queued):
                raise QueryError("timeout", "query timed out in query queue")
            try:
                try:
                    tree = engine.parse(text)
                except QueryError as exc:
                    raise invalid_param("query", str(exc)) from None
                if instant:
                    return engine.instant_query(tree, start, storage=storage, timeout_s=left)
                return engine.range_query(tree, start, end, step, storage=storage, timeout_s=left)
            finally:
                ticket.finish()

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, work)
        try:
            # A query still waiting for a slot when its time is up fails at once,
            # as upstream's queue does; a running one stops at the engine's deadline.
            done, _ = await asyncio.wait({future}, timeout=max(timeout, 0.0))
            if not done and ticket.abandon():
                future.cancel()
                raise ApiError("timeout", "query timed out in query queue")
            return await future
        except QueryError as exc:
            if exc.error_type == "bad_data":
                raise invalid_param("query", str(exc)) from None
            raise ApiError(exc.error_type, str(exc)) from None
        except ApiError:
            raise
        except Exception as exc:  # a bug in evaluation: log it, show no internals
            log.error(
                "Query evaluation failed",
                extra=kv(component="api", query=text, err=type(exc).__name__ + ": " + str(exc)),
            )
            raise ApiError("internal", "unexpected error in query execution") from None
        finally:
            ticket.abandon()  # a request that went away frees its place in the queue

    async def query(self, form: Form) -> web.Response:
        now = int(time.time() * 1000)
        ts = time_param(form, "time", now)
        timeout = self._timeout(form)
        result = await self._run(form.get("query"), ts, ts, 0, timeout, instant=True)
        return _result_response(result)

    async def query_range(self, form: Form) -> web.Response:
        start = _required_time(form, "start")
        end = _required_time(form, "end")
        if end < start:
            raise invalid_param("end", "end timestamp must not be before start time")
        try:
            step = parse_duration_param(form.get("step"))
        except ValueError as exc:
            raise invalid_param("step", str(exc)) from None
        if step <= 0:
            raise invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer",
            )
        if (end - start) // step > MAX_POINTS:
            raise ApiError(
                "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)",
            )
        timeout = self._timeout(form)
        result = await self._run(form.get("query"), start, end, step, timeout, instant=False)
        return _result_response(result)


def _required_time(form: Form, name: str) -> int:
    try:
        return parse_time(form.get(name))
    except ValueError as exc:
        raise invalid_param(name, str(exc)) from None


def _result_response(result: QueryResult) -> web.Response:
    ann = result.annotations
    return raw_success(query_data_json(result), warnings=ann.warnings, infos=ann.infos)


def _parse(ctx: ServerContext, form: Form) -> ast.Expr:
    try:
        return ctx.engine.parse(form.get("query"))
    except QueryError as exc:
        raise invalid_param("query", str(exc)) from None


def query_exemplars(ctx: ServerContext, form: Form) -> web.Response:
    """Exemplar storage does not exist yet: a valid request finds none (``[]``)."""
    start = time_param(form, "start", MIN_TIME_MS)
    end = time_param(form, "end", MAX_TIME_MS)
    if end < start:
        raise ApiError("bad_data", "end timestamp must not be before start timestamp")
    try:
        tree = ctx.engine.parse(form.get("query"))
    except QueryError as exc:
        raise ApiError("bad_data", str(exc)) from None
    if not any(isinstance(n, ast.VectorSelector) for n in ast.walk(tree)):
        return web.Response(status=204)
    return api_success([])


def format_query(ctx: ServerContext, form: Form) -> web.Response:
    """Upstream answers with the multi-line layout past 100 characters (``Pretty(0)``)."""
    return api_success(prettify(_parse(ctx, form)))


def parse_query(ctx: ServerContext, form: Form) -> web.Response:
    return api_success(ast_to_json(_parse(ctx, form)))
