"""The launch-night hot path stays short: statements per reserve, payment webhook and lock are
counted with SQLAlchemy's ``before_cursor_execute`` event and held to an upper bound, on both
engines. A regression guard for round trips (an N+1, a read before an update, the catalogue
read again), not a timing test.

"Ours" excludes transaction control (SQLite's ``BEGIN IMMEDIATE``) and the sandbox
provider's own statements, which stand in for a remote call made after our commit.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import Database
from launch_world import Edition, add_edition, launch_world
from money_world import World
from sqlalchemy import Engine, event

from marque.adapters.payments.sandbox_webhooks import deliver_due
from marque.domain.errors import NotFound
from marque.domain.identity import Actor
from marque.services import catalog as catalog_service
from marque.services import orders, payments

#: Upper bounds of our statements (PostgreSQL; SQLite needs one fewer: no row lock).
RESERVE = 5  # lock the buyer, read their orders, insert order and payment, store the pay URL
RESERVE_LIMITED = RESERVE + 1  # claim a unit
#: receipt, capture (with its order on PostgreSQL; SQLite reads the order apart), posting,
#: entries, queue number, order, history, notice
WEBHOOK = 8
WEBHOOK_LIMITED = WEBHOOK + 2  # the unit becomes sold; the order locks on payment (notice)
LOCK = 4  # move the order, its history, the notice, its place (from the back of the queue)

#: A read of the catalogue (the unit claim's cap lookup inside its UPDATE is deliberate).
CATALOGUE = re.compile(
    r"^SELECT .*\bFROM (models|trims|options|option_groups|option_rules|price_books"
    r"|price_book_entries|deposit_terms|configurations)\b"
)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def ours(seen: list[str]) -> list[str]:
    return [s for s in seen if not s.startswith("BEGIN") and "sandbox_" not in s]


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = launch_world(seeded)
    yield built
    built.close()


@pytest.fixture
def edition(world: World) -> Edition:
    built = add_edition(world.container, cap=5)
    # Warm this process's catalogue cache and the queue counters, as a running server has.
    for choice in (built.standard(), built.founders):
        reservation = world.reserve(world.buyer(), choice)
        world.pay(reservation.payment)
    return built


def captured_webhook(world: World, provider_reference: str) -> tuple[Mapping[str, str], bytes]:
    """The signed webhook the sandbox sends for a payment that just succeeded."""
    sent: list[tuple[Mapping[str, str], bytes]] = []

    def post(_url: str, headers: Mapping[str, str], body: bytes) -> int:
        sent.append((headers, body))
        return 200

    world.provider.complete_payment(provider_reference, succeeded=True)
    deliver_due(world.provider, now=world.clock(), post=post, payment_reference=provider_reference)
    return sent[0]


def bound(database: Database, limit: int) -> int:
    return limit if database.name == "postgresql" else limit - 1


@pytest.mark.parametrize("limited", [False, True], ids=["plain", "limited"])
def test_reserve_and_its_webhook_take_a_handful_of_statements_and_no_catalogue_read(
    world: World, edition: Edition, seeded: Database, limited: bool
) -> None:
    choice = edition.founders if limited else edition.standard()
    buyer: Actor = world.buyer()
    request = world.request(world.configuration(choice), key=secrets.token_hex(8))

    with statements(world.container.engine) as reserving:
        reservation = orders.reserve(world.container, buyer, request)
    headers, body = captured_webhook(world, reservation.payment.provider_reference or "")
    with statements(world.container.engine) as confirming:
        payments.handle_webhook(world.container, "sandbox", headers, body)

    assert not [s for s in reserving + confirming if CATALOGUE.search(s)], "catalogue re-read"
    assert len(ours(reserving)) <= bound(seeded, RESERVE_LIMITED if limited else RESERVE)
    apart = seeded.name == "sqlite"
    assert len(ours(confirming)) <= (WEBHOOK_LIMITED if limited else WEBHOOK) + apart
    if not apart:
        assert not [s for s in ours(confirming) if s.startswith("SELECT orders.")], "order re-read"
    assert world.order(reservation.order.id).queue_number is not None
    if seeded.name == "sqlite":
        assert reserving[0] == "BEGIN IMMEDIATE", "writers queue at BEGIN on SQLite"


def test_a_lock_is_one_conditional_update_its_history_its_notice_and_its_place(
    world: World, edition: Edition
) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer, edition.standard())
    world.pay(reservation.payment)

    with statements(world.container.engine) as locking:
        orders.lock(world.container, buyer, reservation.order.id, confirm=True)

    assert len(ours(locking)) <= LOCK
    assert ours(locking)[0].startswith("UPDATE orders"), "no read before the update"


def test_the_buyers_payment_poll_is_one_read(
    world: World, edition: Edition, seeded: Database
) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer, edition.standard())
    world.pay(reservation.payment)
    autocommit: list[bool] = []

    def driver_mode(conn: Any, *_args: Any) -> None:
        autocommit.append(bool(getattr(conn.connection.driver_connection, "autocommit", False)))

    event.listen(world.container.engine, "before_cursor_execute", driver_mode)
    try:
        with statements(world.container.engine) as polling:
            latest = payments.current_payment(world.container, buyer, reservation.order.id)
    finally:
        event.remove(world.container.engine, "before_cursor_execute", driver_mode)

    assert latest.id == reservation.payment.id
    assert len(ours(polling)) == 1, "the order and its payments in one statement"
    # PostgreSQL: no BEGIN and COMMIT around it either (a read-only unit of work); SQLite
    # keeps its BEGIN
    assert set(autocommit) == {seeded.name == "postgresql"}
    with pytest.raises(NotFound):  # another buyer's order does not exist for this one
        payments.current_payment(world.container, world.buyer(), reservation.order.id)


def test_a_replayed_reservation_writes_nothing(world: World, edition: Edition) -> None:
    buyer = world.buyer()
    request = world.request(world.configuration(edition.standard()), key=secrets.token_hex(8))
    first = orders.reserve(world.container, buyer, request)

    with statements(world.container.engine) as replaying:
        again = orders.reserve(world.container, buyer, request)

    assert again.order.id == first.order.id
    assert not again.created
    assert not [s for s in ours(replaying) if s.startswith(("INSERT", "UPDATE", "DELETE"))]


def test_configuring_again_at_the_same_prices_needs_no_statement(
    world: World, edition: Edition
) -> None:
    """A launch's buyers choose among few configurations: once this process has stored one
    (or found it stored), asking for it again is answered from the catalogue cache."""
    choice = edition.standard("paint-solar-red")
    with statements(world.container.engine) as first_time:
        first = catalog_service.configure(world.container, *choice)
    with statements(world.container.engine) as again_time:
        again = catalog_service.configure(world.container, *choice)

    assert any(s.startswith("INSERT INTO configurations") for s in first_time)
    assert again_time == []
    assert not again.created
    assert again.configuration.code == first.configuration.code
    assert again.configuration.created_at == first.configuration.created_at


def test_a_buyers_first_request_learns_who_is_calling_in_one_statement(world: World) -> None:
    """The token and its customer come in one read (the token cache then serves the rest)."""
    from marque.domain.credentials import TokenKind
    from marque.services import auth_tokens

    buyer = world.buyer()
    with world.container.uow() as uow:
        account = uow.auth.customer(buyer.id or "")
        assert account is not None
        issued = auth_tokens.issue_token(
            world.container, uow.auth, account, TokenKind.BEARER, "test", world.clock()
        )
        uow.commit()

    with statements(world.container.engine) as first:
        actor = auth_tokens.authenticate_token(world.container, issued.token)
    with statements(world.container.engine) as again:
        auth_tokens.authenticate_token(world.container, issued.token)

    assert (actor.kind, actor.id) == (buyer.kind, buyer.id)
    assert len(ours(first)) == 1
    assert again == [], "the token cache answers"


def test_reads_replays_and_duplicate_webhooks_end_without_a_rollback(
    world: World, edition: Edition
) -> None:
    """psycopg drops a connection's server-side prepared statements at every ROLLBACK, so
    transactions that write nothing end with COMMIT (adapters/db/unit_of_work.py)."""
    world.misbehave(sandbox_webhook_duplicate_rate=1.0)  # every webhook comes twice
    buyer = world.buyer()
    request = world.request(world.configuration(edition.standard()), key=secrets.token_hex(8))
    reservation = orders.reserve(world.container, buyer, request)
    ended: list[str] = []
    engine = world.container.engine
    listeners = {
        "commit": lambda _conn: ended.append("commit"),
        "rollback": lambda _conn: ended.append("rollback"),
    }
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        with world.container.uow(readonly=True) as uow:
            assert uow.orders.get(reservation.order.id) is not None
        orders.reserve(world.container, buyer, request)  # a replay
        world.pay(reservation.payment)  # applied, then its duplicate found
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)

    assert [d.status for d in world.deliveries[-2:]] == [200, 200]
    assert world.postings(reservation.order.id) == ["payment_captured"]
    assert "rollback" not in ended
