"""The shop the money state machine plays in: the configurations it sells, its buyers, the
jobs it runs, what finance and the maker do, the webhook line from the sandbox to our
handler, reading things back, and what the terms say a cancel returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final, TypeVar

from conftest import random_phone
from hypothesis import strategies as st
from money_machine_books import quiet
from money_machine_support import SEEN, WebhookLine
from sqlalchemy import func, select

from marque.adapters.clock import FrozenClock
from marque.adapters.db.tables.orders import (
    ledger_entries,
    ledger_postings,
    webhook_receipts,
)
from marque.adapters.db.tables.orders import refunds as refunds_table
from marque.bootstrap import Container
from marque.domain.auth import new_reference
from marque.domain.catalog import PriceBook
from marque.domain.credentials import CustomerAccount
from marque.domain.errors import MarqueError
from marque.domain.identity import Actor, ActorKind, Role
from marque.domain.ledger import Account
from marque.domain.money import Money
from marque.domain.order_entities import Order, Payment, Refund
from marque.domain.order_errors import OrderErrorCode
from marque.domain.orders import OrderStatus
from marque.domain.refunds import RefundEvent, RefundStatus
from marque.services import cancellations, lock_jobs, notifications, orders, refunds
from marque.services.context import AppContext
from marque.services.orders import ReserveRequest

FINANCE = Actor(ActorKind.STAFF, id="finance-bot", roles=frozenset({Role.FINANCE}))
ZERO = Money.zero("CNY")
T = TypeVar("T")


def attempt(call: Callable[[], T]) -> T | MarqueError:
    """What ``call`` returned, or the refusal it raised: the machine then checks that the
    refusal was the right one for the state the order was in."""
    try:
        return call()
    except MarqueError as exc:
        return exc


def refused(outcome: object, code: str) -> bool:
    return isinstance(outcome, MarqueError) and outcome.code == code


# ------------------------------------------------------------------------ what varies

EXPECTATIONS = st.sampled_from(["nothing", "the quote", "more than the quote"])
#: Minutes (webhook delays, refund backoff, the 30-minute payment window: more often, so
#: that reservations live long enough to be paid) to days (the reminder and automatic lock
#: 7 days after payment, the 24-hour cooling-off).
CLOCK_JUMPS = st.sampled_from(
    [timedelta(minutes=n) for n in (1, 1, 3, 3, 10, 10, 25, 45)]
    + [timedelta(hours=2), timedelta(hours=13)]
    + [timedelta(days=n) for n in (1, 3, 6)]
)
SANDBOX_SETTINGS = st.fixed_dictionaries(
    {
        "sandbox_webhook_delay_seconds": st.sampled_from([0.0, 2.0, 90.0]),
        "sandbox_webhook_duplicate_rate": st.sampled_from([0.0, 0.5, 1.0]),
        "sandbox_webhook_reorder_rate": st.sampled_from([0.0, 0.5]),
        "sandbox_webhook_reorder_hold_seconds": st.sampled_from([5.0, 600.0]),
        "sandbox_refund_delay_seconds": st.sampled_from([0.0, 30.0, 7200.0]),
        "refund_max_attempts": st.sampled_from([2, 12]),
    }
)


# ------------------------------------------------------------------------ the shop


class Shop:
    STANDARD: Final = "arc-standard"
    LONG_RANGE: Final = "arc-long-range"
    FOUNDERS: Final = "arc-founders"
    VISTA: Final = "vista-pro"
    CHOICES: Final = (STANDARD, LONG_RANGE, FOUNDERS, VISTA)
    SPECS: Final = {
        STANDARD: ("arc", "standard", ["paint-graphite"]),
        LONG_RANGE: ("arc", "long-range", ["paint-pearl-white"]),
        FOUNDERS: ("arc", "founders", ["paint-aurora-green"]),
        VISTA: ("vista", "pro", []),
    }
    #: The demo terms as a buyer reads them (services/demo_deposit_terms.py): the Arc's
    #: 5,000 CNY earnest money is refundable until the lock and 24 hours after; the
    #: Founders' 20,000 CNY earnest money locks on payment; the Vista's 5,000 CNY intent
    #: money is a prepayment refundable at any time. A price rise after the lock is a
    #: breach: earnest money then comes back twice over, intent money in full.
    TERMS: Final = {
        STANDARD: "arc-earnest",
        LONG_RANGE: "arc-earnest",
        FOUNDERS: "founders-earnest",
        VISTA: "vista-intent",
    }
    DEPOSITS: Final = {
        STANDARD: Money.of_major(5_000, "CNY"),
        LONG_RANGE: Money.of_major(5_000, "CNY"),
        FOUNDERS: Money.of_major(20_000, "CNY"),
        VISTA: Money.of_major(5_000, "CNY"),
    }
    COOLING_OFF: Final = {"arc-earnest": timedelta(hours=24), "founders-earnest": timedelta(0)}
    OPEN: Final = frozenset({"pending_payment", "reserved", "locked", "allocated", "ready"})
    JOBS: Final[Mapping[str, Callable[[AppContext], int]]] = {
        "expire_unpaid": cancellations.expire_unpaid,
        "lock_reminders": lock_jobs.send_lock_reminders,
        "auto_lock": lock_jobs.auto_lock,
        "refunds": refunds.run_once,
        "outbox_relay": notifications.run_once,
    }

    def __init__(self, container: Container, codes: Mapping[str, str]) -> None:
        self.ctx = container
        self.rises = 0
        self.codes = codes  # stored in the template, priced afresh at every use

    def now(self) -> datetime:
        return self.ctx.clock()

    # -- buying --------------------------------------------------------------------------
    def new_buyer(self) -> Actor:
        account = CustomerAccount(new_reference("C-"), random_phone(), self.now())
        with self.ctx.uow() as uow:
            uow.auth.add_customer(account)
            uow.commit()
        return Actor(ActorKind.CUSTOMER, id=account.id)

    def request(self, choice: str, key: str | None) -> ReserveRequest:
        terms = orders.price_now(self.ctx, self.codes[choice], self.now()).terms
        return ReserveRequest(
            configuration_code=self.codes[choice],
            terms_code=terms.code,
            terms_version=terms.version,
            terms_hash=terms.content_hash,
            accept_terms=True,
            locale="en",
            idempotency_key=key,
        )

    def list_price(self, choice: str) -> Money:
        return orders.price_now(self.ctx, self.codes[choice], self.now()).configuration.total_price

    # -- reading back --------------------------------------------------------------------
    def orders_of(self, buyer: Actor) -> list[Order]:
        assert buyer.id
        with self.ctx.uow(readonly=True) as uow:
            return uow.orders.for_customer(buyer.id, after=None, limit=100)

    def order(self, order_id: str) -> Order:
        with self.ctx.uow(readonly=True) as uow:
            found = uow.orders.get(order_id)
        assert found is not None
        return found

    def payments_of(self, order_id: str) -> list[Payment]:
        with self.ctx.uow(readonly=True) as uow:
            return uow.payments.for_order(order_id)

    def refunds_of(self, order_id: str) -> list[Refund]:
        with self.ctx.uow(readonly=True) as uow:
            return uow.refunds.for_order(order_id)

    def balance(self, account: Account, order_id: str) -> int:
        """Debits minus credits of ``account`` for one order."""
        with self.ctx.engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(ledger_entries.c.amount), 0)).where(
                    ledger_entries.c.account == str(account),
                    ledger_entries.c.order_id == order_id,
                )
            ).scalar_one()
        return int(total)

    def forfeited(self, order_id: str) -> int:
        return -self.balance(Account.FORFEITED_DEPOSITS, order_id)

    def postings(self, order_id: str) -> list[str]:
        with self.ctx.uow(readonly=True) as uow:
            return [str(posting.kind) for posting in uow.ledger.for_order(order_id)]

    def counts(self) -> tuple[int, ...]:
        """Postings, webhook receipts and refunds: what a refused webhook must not change."""
        with self.ctx.engine.connect() as conn:
            return tuple(
                int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (ledger_postings, webhook_receipts, refunds_table)
            )

    # -- staff and system ----------------------------------------------------------------
    def run(self, job: str) -> int:
        """Run one job directly (not through jobs.run_round, which logs and swallows)."""
        return self.JOBS[job](self.ctx)

    def run_all_jobs(self) -> None:
        for job in self.JOBS:
            self.run(job)

    def retry_failed_refunds(self) -> list[Refund]:
        failed = refunds.search(self.ctx, statuses=[RefundStatus.FAILED], limit=200)
        return [refunds.retry_failed(self.ctx, FINANCE, view.refund.id) for view in failed]

    def pay_compensations(self, order_ids: Iterable[str]) -> None:
        """Finance records the bank transfer of each compensation owed on top of a refund:
        once, and only after the deposit itself came back through the provider."""
        for refund in [r for o in order_ids for r in self.refunds_of(o) if r.compensation.amount]:
            done = any(
                change.event is RefundEvent.PAY_COMPENSATION
                for change in refunds.view(self.ctx, refund.id).history
            )
            outcome = attempt(partial(self._pay_compensation, refund.id))
            if done:
                assert refused(outcome, OrderErrorCode.COMPENSATION_ALREADY_PAID), outcome
            elif refund.status is RefundStatus.SUCCEEDED:
                assert isinstance(outcome, refunds.RefundView), outcome
                SEEN.update(["finance paid a compensation by transfer"])
            else:
                assert refused(outcome, "refund.invalid_transition"), outcome

    def _pay_compensation(self, refund_id: str) -> refunds.RefundView:
        reference = f"TRF-{refund_id}"
        return refunds.record_compensation_paid(
            self.ctx, FINANCE, refund_id, bank_reference=reference
        )

    def raise_prices(self, model: str, yuan: int) -> None:
        """The maker raises every trim of ``model`` by ``yuan``, from now on (a new book)."""
        now = self.now()
        self.rises += 1
        with self.ctx.uow() as uow:
            current = PriceBook.current(uow.catalog.price_books(model), now)
            assert current is not None
            uow.catalog.add_price_book(
                PriceBook(
                    code=f"{model}-up-{now:%Y%m%d%H%M%S}-{self.rises:03d}",
                    model_code=model,
                    currency=current.currency,
                    effective_from=now,
                    effective_to=None,
                    trim_prices={t: p + yuan * 100 for t, p in current.trim_prices.items()},
                    option_prices=dict(current.option_prices),
                ),
                now=now,
            )
            uow.commit()


@dataclass
class Tracked:
    """What the machine remembers of one order."""

    buyer: Actor
    choice: str
    #: Price rises of the order's model when it locked (None: not locked yet).
    rises_at_lock: int | None = None

    @property
    def model(self) -> str:
        return Shop.SPECS[self.choice][0]

    def breached(self, rises: Counter[str]) -> bool:
        """The maker raised the price of the order's model after the order locked."""
        return self.rises_at_lock is not None and rises[self.model] > self.rises_at_lock


def settle(shop: Shop, line: WebhookLine, clock: FrozenClock, order_ids: Iterable[str]) -> None:
    """Every held-back webhook delivered, then jobs, finance and time until nothing is left
    to do (with whatever provider the shop has now)."""
    for body in line.held_back:
        line.deliver_held_back(body)
    line.held_back.clear()
    for _ in range(40):
        line.deliver_due()
        shop.run_all_jobs()
        shop.retry_failed_refunds()
        line.deliver_due()
        if quiet(shop.ctx.engine, order_ids):
            break
        clock.advance(hours=6)
    assert quiet(shop.ctx.engine, order_ids), "the world did not settle"
    shop.pay_compensations(order_ids)
    for order_id in order_ids:
        SEEN.update(
            f"settled refund: {r.quote_rule}, {r.key_generation} new key(s)"
            for r in shop.refunds_of(order_id)
        )


def expected_quote(
    order: Order, choice: str, held: int, *, now: datetime, breach: bool
) -> tuple[Money, Money, Money]:
    """(refund, compensation, forfeited) of cancelling ``order`` at ``now``, as the terms
    (``Shop.TERMS``) and the law say: nothing was taken before payment; intent money comes
    back in full; earnest money comes back in full before the lock and in the cooling-off
    after it, is forfeited by a buyer who walks away later, and comes back twice over when
    the maker broke the deal by raising the price after the lock."""
    money = Money(held, "CNY")
    terms = Shop.TERMS[choice]
    if order.status is OrderStatus.PENDING_PAYMENT:
        assert held == 0
        return ZERO, ZERO, ZERO
    if terms == "vista-intent":
        return money, ZERO, ZERO
    if breach:
        return money, money, ZERO
    if order.status is OrderStatus.RESERVED:
        return money, ZERO, ZERO
    assert order.locked_at is not None
    if now < order.locked_at + Shop.COOLING_OFF[terms]:
        return money, ZERO, ZERO
    return ZERO, ZERO, money


__all__ = [
    "CLOCK_JUMPS",
    "EXPECTATIONS",
    "FINANCE",
    "SANDBOX_SETTINGS",
    "Shop",
    "Tracked",
    "attempt",
    "expected_quote",
    "refused",
    "settle",
]
