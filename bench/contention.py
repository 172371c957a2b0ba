"""The contention variant: many buyers at once on one limited edition.

``attempts`` reservations of the limited edition by ``clients`` concurrent clients (a closed
loop: each client sends its next attempt when the last one is answered), each attempt by a
buyer of its own, of whom a share sends its request a second time with the same
Idempotency-Key (a retry after a lost answer). Afterwards exactly ``cap`` distinct orders
must have been confirmed, a retry must have got its first answer back, and no "sold out"
may have been answered while units were demonstrably left.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.driver import Driver
from bench.journey import Configured
from bench.provision import Buyer


@dataclass(frozen=True)
class Attempt:
    buyer: Buyer
    key: str
    duplicate: bool


@dataclass
class Seen:
    started: float
    finished: float
    status: int
    code: str | None
    order_id: str | None
    attempt: Attempt


@dataclass
class ContentionResult:
    seen: list[Seen] = field(default_factory=list)

    def analyse(self, cap: int) -> dict[str, Any]:
        confirmed: dict[str, float] = {}  # order id -> when its request started
        by_key: dict[tuple[str, str], set[str]] = {}
        refusals: Counter[str] = Counter()
        refused_at: list[float] = []
        for seen in self.seen:
            if seen.order_id:
                confirmed.setdefault(seen.order_id, seen.started)
                confirmed[seen.order_id] = min(confirmed[seen.order_id], seen.started)
                by_key.setdefault((seen.attempt.buyer.id, seen.attempt.key), set()).add(
                    seen.order_id
                )
            else:
                refusals[f"{seen.status} {seen.code}" if seen.code else str(seen.status)] += 1
                if seen.status == 409:
                    refused_at.append(seen.finished)
        starts = sorted(confirmed.values())
        false_sold_out = 0
        for moment in refused_at:
            # Only requests that had started by then could have taken the units.
            taken_at_most = _count_before(starts, moment)
            if taken_at_most < cap:
                false_sold_out += 1
        split_keys = sum(1 for ids in by_key.values() if len(ids) > 1)
        return {
            "attempts": len(self.seen),
            "duplicates": sum(1 for seen in self.seen if seen.attempt.duplicate),
            "confirmed_orders": len(confirmed),
            "cap": cap,
            "exactly_cap_confirmed": len(confirmed) == cap,
            "over_cap": max(0, len(confirmed) - cap),
            "refusals": dict(refusals.most_common()),
            "false_sold_out": false_sold_out,
            "keys_with_two_orders": split_keys,
        }


def _count_before(sorted_values: list[float], moment: float) -> int:
    low, high = 0, len(sorted_values)
    while low < high:
        middle = (low + high) // 2
        if sorted_values[middle] <= moment:
            low = middle + 1
        else:
            high = middle
    return low


def plan_attempts(
    buyers: Sequence[Buyer], attempts: int, duplicate_share: float, seed: int = 11
) -> list[Attempt]:
    """Fresh attempts, one per buyer, with each duplicate placed a little after its original
    (within a few hundred places: often while the original is still in flight)."""
    rnd = random.Random(seed)
    duplicates = int(attempts * duplicate_share)
    originals = [Attempt(b, uuid.uuid4().hex, False) for b in buyers[: attempts - duplicates]]
    keyed: list[tuple[float, Attempt]] = [(float(i), a) for i, a in enumerate(originals)]
    for _ in range(duplicates):
        index = rnd.randrange(len(originals))
        first = originals[index]
        keyed.append((index + rnd.randrange(300) + 0.5, Attempt(first.buyer, first.key, True)))
    keyed.sort(key=lambda item: item[0])
    return [attempt for _, attempt in keyed]


async def run_contention(
    driver: Driver, limited: Configured, planned: Sequence[Attempt], clients: int
) -> ContentionResult:
    result = ContentionResult()
    queue: asyncio.Queue[Attempt] = asyncio.Queue()
    for attempt in planned:
        queue.put_nowait(attempt)

    async def client() -> None:
        while True:
            try:
                attempt = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = driver.now()
            answer = await driver.call(
                "contend",
                "POST",
                "/api/v1/orders",
                token=attempt.buyer.token,
                key=attempt.key,
                body=limited.reserve_body,
            )
            order_id = (
                str(answer.body["id"]) if answer.ok and isinstance(answer.body, dict) else None
            )
            result.seen.append(
                Seen(started, driver.now(), answer.status, answer.code, order_id, attempt)
            )

    await asyncio.gather(*(client() for _ in range(clients)))
    return result
