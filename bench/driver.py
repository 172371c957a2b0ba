"""The load driver's HTTP side: aiohttp keep-alive pools, honest latencies, polite retries.

- Latency is measured from the request's *scheduled* time (``scheduled``, on the event
  loop's monotonic clock), not from when the driver got round to sending it, so a slow
  server cannot hide its queue by slowing the driver down (no coordinated omission).
- 429 and 503 answers are retried after their ``Retry-After`` (up to ``retry_after_cap``,
  plus up to a second of jitter), and so are lost connections (a killed worker), at most
  ``max_retries`` times, always with the same request: an ``Idempotency-Key`` stays the
  key of the intended operation. A shed answer's ``Marque-Retry-Ticket`` is shown on the
  retry, as a buyer's app does, to be served ahead of newcomers (marque's waiting room).
- ``409 idempotency.in_progress`` (the first request with the key is still running, or
  died less than a lease ago) is retried a little later, for up to ``in_progress_for`` s.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.stats import Recorder
from marque.entrypoints.api.waiting_room import TICKET_HEADER

IN_PROGRESS = "idempotency.in_progress"


@dataclass
class Answer:
    status: int  # 0: no answer (connection lost, timeout)
    body: Any
    code: str | None  # problem code, or the exception's class name when there is no answer
    headers: dict[str, str]
    attempts: int
    latency: float  # seconds from the scheduled time to the final answer
    done_wall: float  # time.time() of the final answer (to compare with database times)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def label(self) -> str:
        return f"{self.status} {self.code}" if self.code else str(self.status)


class Driver:
    def __init__(
        self,
        base_url: str,
        recorder: Recorder,
        *,
        connections: int,
        timeout: float,
        max_retries: int,
        retry_after_cap: float = 300.0,
        in_progress_for: float = 90.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self.max_retries = max_retries
        self.retry_after_cap = retry_after_cap
        self.in_progress_for = in_progress_for
        self._connector = aiohttp.TCPConnector(
            limit=connections, keepalive_timeout=60, ttl_dns_cache=None
        )
        self.session = aiohttp.ClientSession(
            connector=self._connector,
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"Accept-Language": "en"},
            json_serialize=lambda value: json.dumps(value, separators=(",", ":")),
        )

    async def close(self) -> None:
        await self.session.close()

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    async def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        scheduled: float | None = None,
        token: str | None = None,
        key: str | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        carry: dict[str, str] | None = None,
    ) -> Answer:
        """One request, retried as the module says. ``carry``: headers a buyer's app keeps
        between its requests (the waiting room's ticket, so that the next step of a journey
        let in on it, e.g. reserving after configuring, keeps its place too)."""
        loop = asyncio.get_running_loop()
        start = loop.time() if scheduled is None else scheduled
        headers = dict(headers or {})
        if carry:
            headers.update(carry)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        attempts = 0
        while True:
            attempts += 1
            sent = loop.time()
            status, parsed, code, answer_headers = await self._once(
                method, path, headers, body, content
            )
            label = f"{status} {code}" if code else str(status)
            self.recorder.attempt(step, label)
            if status in (429, 503):  # how fast the server says "not now"
                self.recorder.add_latency("shed_answer", loop.time() - sent)
                ticket = answer_headers.get(TICKET_HEADER)
                if ticket:
                    headers[TICKET_HEADER] = ticket
                    if carry is not None:
                        carry[TICKET_HEADER] = ticket
            wait = (
                self._retry_wait(status, code, answer_headers, attempts, start) if retry else None
            )
            if wait is None:
                break
            self.recorder.retry(step)
            await asyncio.sleep(wait)
        answer = Answer(
            status, parsed, code, answer_headers, attempts, loop.time() - start, time.time()
        )
        self.recorder.finish(step, answer.label, answer.latency, answer.ok)
        return answer

    async def _once(
        self, method: str, path: str, headers: dict[str, str], body: Any, content: bytes | None
    ) -> tuple[int, Any, str | None, dict[str, str]]:
        payload: dict[str, Any] = {"data": content} if content is not None else {"json": body}
        try:
            async with self.session.request(
                method, self.base_url + path, headers=headers, **payload
            ) as response:
                raw = await response.read()
                answer_headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            return 0, None, type(exc).__name__, {}
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        code = parsed.get("code") if status >= 400 and isinstance(parsed, dict) else None
        return status, parsed, code, answer_headers

    def _retry_wait(
        self, status: int, code: str | None, headers: dict[str, str], attempts: int, start: float
    ) -> float | None:
        if status in (429, 503) and attempts <= self.max_retries:
            try:
                after = float(headers.get("retry-after", "1"))
            except ValueError:
                after = 1.0
            return min(self.retry_after_cap, max(0.0, after)) + random.uniform(0.0, 1.0)
        if status == 0 and attempts <= self.max_retries:
            return 0.25 * attempts * random.uniform(1.0, 1.5)
        elapsed = asyncio.get_running_loop().time() - start
        if status == 409 and code == IN_PROGRESS and elapsed < self.in_progress_for:
            return 0.5 * random.uniform(1.0, 1.5)
        return None


async def sleep_until(moment: float) -> None:
    delay = moment - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
