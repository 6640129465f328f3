"""Upload size, content type, per-key rate limit, and back-pressure on the recognition workers.

- ``BodyLimitMiddleware`` refuses an upload larger than the limit with 413 *before* the body is
  read: at once from ``Content-Length``, or as soon as a chunked body passes the limit (the
  receive channel is counted, so nothing beyond the limit is ever buffered). It also answers
  415 when a route that takes multipart (or JSON) is sent something else.
- ``RateLimiter``: a token bucket per API key (``rate_per_minute``, ``rate_burst``) → 429 with
  ``Retry-After``.
- ``WorkPool``: recognition runs on a fixed number of threads; at most ``queue`` more requests
  wait; beyond that the answer is 503 with ``Retry-After`` at once (a full queue is better
  refused than timed out). A request waiting longer than ``request_timeout_s`` gets 503
  ``timeout``; its worker finishes the job (threads cannot be killed) and only then frees the slot.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError, response
from .routing import route_extra

T = TypeVar("T")
BODY_TYPES = {"multipart": "multipart/form-data", "json": "application/json"}


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._refusal(scope, headers)
        if problem is not None:
            await problem(scope, receive, send)
            return
        await self.app(scope, self._counted(receive), send)

    def _refusal(self, scope: Scope, headers: dict[str, str]):
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return response(400, "bad_request", "Content-Length is not a number")
            if int(length) > self.max_bytes:
                return _too_large(self.max_bytes)
        wanted = route_extra(scope, "x-facelens-body")
        if wanted is not None:
            given = headers.get("content-type", "").split(";")[0].strip().lower()
            if given != BODY_TYPES[wanted]:
                return response(415, "unsupported_media_type",
                                f"this endpoint takes {BODY_TYPES[wanted]}, not {given or 'no content type'}")
        return None

    def _counted(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # fastapi re-raises its HTTPException unchanged out of the body parser
                    raise HTTPException(413, f"upload larger than the limit of {self.max_bytes:,} bytes")
            return message

        return counted


def _too_large(limit: int):
    return response(413, "payload_too_large", f"upload larger than the limit of {limit:,} bytes")


class RateLimiter:
    """Token bucket per key: ``burst`` requests at once, refilled at ``per_minute``/60 per second."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # name → (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, name: str) -> float | None:
        """None when allowed; else the seconds to wait before the next request can pass."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return None
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def refusal(wait: float) -> ApiError:
        seconds = max(1, math.ceil(wait))
        return ApiError(429, "rate_limited", f"rate limit reached for this key; retry in {seconds} s",
                        {"Retry-After": str(seconds)})


class WorkPool:
    """Bounded recognition workers (see module doc)."""

    def __init__(self, workers: int, queue: int, timeout: float) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self.timeout = timeout
        self.in_flight = 0
        self.refused = 0
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="facelens-work")

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.in_flight >= self.capacity:
            self.refused += 1
            raise ApiError(503, "overloaded", f"server busy: {self.in_flight} requests in progress; retry shortly",
                           {"Retry-After": "1"})
        self.in_flight += 1  # changed on the event loop thread only
        # run in the request's context (contextvars): the audit actor the route set
        # (gallery.audit.acting_as) reaches the thread that writes the entries
        job = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
        future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except asyncio.TimeoutError:
            raise ApiError(503, "timeout", f"the request took longer than {self.timeout:g} s; retry later",
                           {"Retry-After": "5"}) from None

    def _release(self, future: asyncio.Future) -> None:
        self.in_flight -= 1
        if not future.cancelled():
            future.exception()  # retrieved: a job that outlived its timeout logs no "never retrieved"

    def state(self) -> dict[str, int]:
        return {"workers": self.workers, "capacity": self.capacity, "in_flight": self.in_flight,
                "refused": self.refused}

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
