"""Random lives of orders on a real database (both engines), checked after every step.

The machine (money_machine.py): buyers reserve (replaying Idempotency-Keys), pay or fail at
the sandbox, pay again, change the configuration, lock and cancel (twice, or expecting more
than the quote); the worker expires, reminds, auto-locks, sends refunds and notifications;
finance retries failed refunds; the maker raises prices; the clock jumps minutes to days;
the provider goes down, loses answers or refuses refunds; signed webhooks come late, twice,
out of order, forged or stale, through the real signature check and webhook handler.

After every step the books are read from the tables: every posting balances, no order holds
a negative amount (and one that holds holds exactly its deposit), no refund is paid twice or
beyond its payment, every captured payment is posted once, and ``marque ledger check`` finds
nothing. Each cancel pays exactly the quote shown at that instant, which is what the terms
say. At the end the world settles with a healthy provider: then every refund has reached the
buyer exactly once and the provider's money matches the books.

Derandomized so CI is reproducible; MARQUE_FUZZ_RANDOM=1 explores new sequences and
MARQUE_MACHINE_EXAMPLES / MARQUE_MACHINE_STEPS make runs longer. ``pytest -s`` prints what
the runs did.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any, cast

import pytest
from conftest import Database
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from money_machine import MoneyMachine
from money_machine_steps import Shop
from money_machine_support import (
    SEEN,
    MoneyDatabase,
    ProviderMode,
    create_money_database,
    drop_money_database,
)

from marque.domain.identity import Actor
from marque.domain.orders import OrderStatus

MACHINE_SETTINGS = settings(
    max_examples=int(os.environ.get("MARQUE_MACHINE_EXAMPLES", "15")),
    stateful_step_count=int(os.environ.get("MARQUE_MACHINE_STEPS", "40")),
    deadline=None,
    derandomize=os.environ.get("MARQUE_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def money_db(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MoneyDatabase]:
    """A template database; every example and every chosen path plays on a copy of it."""
    directory = tmp_path_factory.mktemp("money")
    built = create_money_database(database.name, directory, Shop.SPECS)
    yield built
    drop_money_database(built)


def test_money_is_never_lost_or_doubled_whatever_happens(money_db: MoneyDatabase) -> None:
    SEEN.clear()
    # Hypothesis takes any factory of machines; its annotation names the class only.
    factory = cast("type[MoneyMachine]", partial(MoneyMachine, money_db))
    run_state_machine_as_test(factory, settings=MACHINE_SETTINGS)
    for what, times in sorted(SEEN.items()):
        print(f"{times:5d}  {what}")


# ---------------------------------------------------------------------------- chosen paths
# The random runs above wander; these replay, through the same machine and the same checks
# after every step, the paths that must be walked on every CI run whatever the seed.

Script = Callable[[MoneyMachine, Actor, Actor, Actor], Iterator[None]]
QUIET_SANDBOX: dict[str, Any] = {
    "sandbox_webhook_delay_seconds": 0.0,
    "sandbox_webhook_duplicate_rate": 0.0,
    "sandbox_webhook_reorder_rate": 0.0,
    "sandbox_webhook_reorder_hold_seconds": 5.0,
    "sandbox_refund_delay_seconds": 0.0,
    "refund_max_attempts": 12,
}
PAID = "pays and the webhook comes"


def reserve(m: MoneyMachine, buyer: Actor, choice: str, then: str, *, keyed: bool = False) -> str:
    order = m.buyer_reserves(buyer, choice, keyed, then)
    assert isinstance(order, str), "the reservation was refused"
    return order


def refunds_of(machine: MoneyMachine, order_id: str) -> list[tuple[str, str, int]]:
    return [(r.reason, r.status, r.key_generation) for r in machine.shop.refunds_of(order_id)]


def refused_refunds_go_again_and_given_up_ones_still_settle(
    m: MoneyMachine, a: Actor, b: Actor, c: Actor
) -> Iterator[None]:
    lost = reserve(m, a, Shop.STANDARD, PAID)
    yield
    refused = reserve(m, b, Shop.VISTA, PAID)
    yield
    for order in (lost, refused):
        m.buyer_cancels(order, "the quote", True)
        yield
    m.the_provider_changes_mood(ProviderMode.REFUSES_REFUNDS)
    yield
    for _ in range(2):  # accepted, then failed by webhook: again under a new key
        m.time_passes(timedelta(hours=1), True)
        yield
        m.the_provider_sends_webhooks(True)
        yield
    assert refunds_of(m, refused) == [("cancelled", "failed", 2)]  # given up: finance
    assert refunds_of(m, lost) == [("cancelled", "failed", 2)]
    m.staff_or_system_acts("finance retries failed refunds")
    yield
    m.the_provider_changes_mood(ProviderMode.ANSWERS_LOST)
    yield
    m.time_passes(timedelta(hours=1), True)  # the provider refunds; the answers are lost
    yield
    m.the_provider_changes_mood(ProviderMode.DOWN)
    yield
    m.time_passes(timedelta(hours=1), True)  # a 500: given up again, though paid
    yield
    assert refunds_of(m, lost) == [("cancelled", "failed", 3)]
    m.the_provider_changes_mood(ProviderMode.HEALTHY)
    yield
    m.the_provider_sends_webhooks(True)  # the provider says the money arrived
    yield
    assert refunds_of(m, lost) == refunds_of(m, refused) == [("cancelled", "succeeded", 3)]


def earnest_money_is_forfeited_or_returned_twice_over(
    m: MoneyMachine, a: Actor, b: Actor, c: Actor
) -> Iterator[None]:
    walks_away = reserve(m, a, Shop.FOUNDERS, PAID)  # locks on payment
    yield
    wronged = reserve(m, b, Shop.FOUNDERS, PAID)
    yield
    late = reserve(m, c, Shop.STANDARD, PAID)
    yield
    m.buyer_locks(late)
    yield
    m.buyer_cancels(walks_away, "the quote", False)
    yield
    m.time_passes(timedelta(days=1), True)  # the cooling-off after the lock is over
    yield
    m.buyer_cancels(late, "nothing", False)
    yield
    m.staff_or_system_acts("the maker raises the prices of arc")
    yield
    m.buyer_cancels(wronged, "the quote", True)
    yield
    assert (refunds_of(m, walks_away), refunds_of(m, late)) == ([], [])
    assert m.shop.forfeited(walks_away) == 2_000_000
    assert m.shop.forfeited(late) == 500_000
    [double] = m.shop.refunds_of(wronged)
    assert (double.amount.amount, double.compensation.amount) == (2_000_000, 2_000_000)


def webhooks_come_twice_late_and_out_of_order(
    m: MoneyMachine, a: Actor, b: Actor, c: Actor
) -> Iterator[None]:
    # every event is sent twice, 90 s late; the first one (the failure) 10 minutes later still
    order = reserve(m, a, Shop.VISTA, "waits", keyed=True)
    yield
    m.buyer_pays_at_the_sandbox(order, False, False, False)  # declined ...
    yield
    m.buyer_pays_at_the_sandbox(order, True, False, False)  # ... then paid on a second try
    yield
    m.time_passes(timedelta(minutes=3), False)
    yield
    m.the_provider_sends_webhooks(False)  # our endpoint is down: both copies of the success
    yield
    for pick, keep in ((1, True), (0, False), (0, True)):  # come in later, by other ways
        m.a_held_back_webhook_arrives(pick, keep)
        yield
    m.time_passes(timedelta(minutes=10), False)
    yield
    m.the_provider_sends_webhooks(True)  # the success again, then the failure: too late
    yield
    for stale in (True, False):
        m.a_forged_or_stale_webhook_arrives(0, stale)
        yield
    m.buyer_replays_an_idempotency_key(0)
    yield
    assert m.shop.order(order).status is OrderStatus.RESERVED
    assert m.shop.postings(order) == ["payment_captured"]
    assert [p.status for p in m.shop.payments_of(order)] == ["succeeded"]


def money_that_comes_too_late_or_twice_goes_back(
    m: MoneyMachine, a: Actor, b: Actor, c: Actor
) -> Iterator[None]:
    cancelled = reserve(m, a, Shop.STANDARD, "pays")  # webhook not there yet
    yield
    m.buyer_cancels(cancelled, "the quote", False)  # nothing paid as far as we know
    yield
    expired = reserve(m, b, Shop.VISTA, "waits")
    yield
    m.time_passes(timedelta(minutes=45), True)
    yield
    m.buyer_pays_at_the_sandbox(expired, True, False, True)
    yield
    twice = reserve(m, c, Shop.LONG_RANGE, "waits")
    yield
    m.buyer_pays_at_the_sandbox(twice, False, False, True)
    yield
    m.buyer_pays_again(twice)
    yield
    m.buyer_pays_at_the_sandbox(twice, True, True, False)  # the failed one succeeds after all
    yield
    m.buyer_pays_at_the_sandbox(twice, True, False, False)  # and so does the new one
    yield
    m.the_provider_sends_webhooks(True)
    yield
    for order, reason in ((cancelled, "late_payment"), (expired, "late_payment")):
        assert [r[0] for r in refunds_of(m, order)] == [reason]
    assert [r[0] for r in refunds_of(m, twice)] == ["duplicate_payment"]
    assert m.shop.order(twice).status is OrderStatus.RESERVED


def the_provider_fails_at_checkout_and_the_lock_comes_by_itself(
    m: MoneyMachine, a: Actor, b: Actor, c: Actor
) -> Iterator[None]:
    m.the_provider_changes_mood(ProviderMode.DOWN)
    yield
    down = reserve(m, a, Shop.STANDARD, "waits")  # no checkout yet
    yield
    m.the_provider_changes_mood(ProviderMode.ANSWERS_LOST)
    yield
    lost = reserve(m, b, Shop.STANDARD, "waits")  # created, answer lost
    yield
    m.the_provider_changes_mood(ProviderMode.HEALTHY)
    yield
    for order in (down, lost):  # the pay page asks again, with the same key
        m.buyer_pays_at_the_sandbox(order, True, False, True)
        yield
    m.time_passes(timedelta(days=6), True)  # the reminder, a day before the lock
    yield
    m.time_passes(timedelta(days=1), True)  # the automatic lock
    yield
    assert {m.shop.order(o).status for o in (down, lost)} == {OrderStatus.LOCKED}
    m.buyer_cancels(lost, "the quote", False)  # in the cooling-off: in full
    yield


SCRIPTS: list[Script] = [
    refused_refunds_go_again_and_given_up_ones_still_settle,
    earnest_money_is_forfeited_or_returned_twice_over,
    webhooks_come_twice_late_and_out_of_order,
    money_that_comes_too_late_or_twice_goes_back,
    the_provider_fails_at_checkout_and_the_lock_comes_by_itself,
]
SANDBOX_FOR: dict[str, dict[str, Any]] = {
    "refused_refunds_go_again_and_given_up_ones_still_settle": {"refund_max_attempts": 2},
    "webhooks_come_twice_late_and_out_of_order": {
        "sandbox_webhook_duplicate_rate": 1.0,
        "sandbox_webhook_reorder_rate": 0.5,
        "sandbox_webhook_reorder_hold_seconds": 600.0,
        "sandbox_webhook_delay_seconds": 90.0,
    },
}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.__name__)
def test_chosen_paths_keep_the_money_right(money_db: MoneyDatabase, script: Script) -> None:
    machine = MoneyMachine(money_db)
    sandbox = QUIET_SANDBOX | SANDBOX_FOR.get(script.__name__, {})
    a, b, c = machine.open_the_shop(sandbox).values
    try:
        for _ in script(machine, a, b, c):
            machine.the_books_are_right()
            machine.each_order_holds_its_deposit_or_nothing()
    finally:
        machine.teardown()  # settles the world, then checks the provider against the books
