"""What a run measured: latencies per step (from each request's scheduled time), answers by
status and problem code, and the percentiles and rates the report prints."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def percentile(sorted_values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when it is empty)."""
    if not sorted_values:
        return None
    rank = max(1, round(share * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    as_ms = {
        name: None if (value := percentile(ordered, share)) is None else round(value * 1000, 1)
        for name, share in (("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99))
    }
    return {
        "count": len(ordered),
        **as_ms,
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
    }


@dataclass
class StepStats:
    ok_latencies: list[float] = field(default_factory=list)
    #: final answers: "201", "409 order.limited_edition_taken", "0 ServerDisconnectedError" ...
    outcomes: Counter[str] = field(default_factory=Counter)
    #: every attempt's answer, retried ones included (e.g. the 503s that were retried)
    attempts: Counter[str] = field(default_factory=Counter)
    retries: int = 0


class Recorder:
    """Collects per-step measurements from the driver (one event loop: no locks needed)."""

    def __init__(self) -> None:
        self.steps: dict[str, StepStats] = defaultdict(StepStats)

    def attempt(self, step: str, label: str) -> None:
        self.steps[step].attempts[label] += 1

    def retry(self, step: str) -> None:
        self.steps[step].retries += 1

    def finish(self, step: str, label: str, latency: float, ok: bool) -> None:
        stats = self.steps[step]
        stats.outcomes[label] += 1
        if ok:
            stats.ok_latencies.append(latency)

    def add_latency(self, step: str, latency: float) -> None:
        """A latency measured afterwards (e.g. from the database), counted as one success."""
        self.finish(step, "ok", latency, ok=True)

    def report(self) -> dict[str, Any]:
        return {
            step: {
                **summary(stats.ok_latencies),
                "outcomes": dict(stats.outcomes.most_common()),
                "attempts": dict(stats.attempts.most_common()),
                "retries": stats.retries,
            }
            for step, stats in sorted(self.steps.items())
        }

    def unexpected_errors(self, allowed: frozenset[int] = frozenset({409, 429, 503})) -> int:
        """Final answers that are neither success nor a deliberate 409/429/503."""
        bad = 0
        for stats in self.steps.values():
            for label, count in stats.outcomes.items():
                status = label.split(" ", 1)[0]
                if status == "ok" or (status.isdigit() and 200 <= int(status) < 300):
                    continue
                if status.isdigit() and int(status) in allowed:
                    continue
                bad += count
        return bad


def rate(moments: list[datetime], since: float | None = None) -> float | None:
    """Events per second from ``since`` (a wall time) or the first event to the last."""
    if len(moments) < 2:
        return None
    stamps = sorted(m.timestamp() for m in moments)
    start = since if since is not None else stamps[0]
    span = stamps[-1] - start
    return round(len(stamps) / span, 1) if span > 0 else None


def rate_within(moments: list[datetime], since: float | None, seconds: float) -> float | None:
    """Events per second in the ``seconds`` from ``since`` (a wall time): the goodput while
    arrivals were offered, without the returns that come back after them."""
    if since is None or seconds <= 0:
        return None
    end = since + seconds
    return round(sum(1 for m in moments if since <= m.timestamp() < end) / seconds, 1)
