"""The launch benchmark's rates: goodput while arrivals are offered leaves out the returns
that come back after them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.stats import rate, rate_within

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_goodput_while_offered_counts_only_the_offered_window() -> None:
    within = [START + timedelta(seconds=s / 10) for s in range(100)]  # 10/s for 10 s
    after = [START + timedelta(seconds=10 + s) for s in range(20)]  # returns, 1/s

    assert rate_within(within + after, START.timestamp(), 10) == 10.0
    assert rate(within + after, START.timestamp()) == round(120 / 29, 1)


def test_without_a_start_or_a_window_there_is_no_rate() -> None:
    assert rate_within([START], None, 10) is None
    assert rate_within([START], START.timestamp(), 0) is None
