"""Queue tallies: how many locked orders of a configuration still wait for their car, kept
by the database itself in up to 16 shard rows, so a buyer who has just locked learns their
place from those rows instead of counting every locked order ahead (tens of thousands on
launch night; docs/decisions.md, "Queue places").

A trigger on ``orders`` keeps ``queue_tallies`` exact whichever code path moves an order
(lock, automatic lock, cancellation, delivery, a hand-written fix): an order counts on the
shard of its queue number while it is locked and waiting. The tallies are a table of their
own, not columns of ``queue_counters``: a lock would otherwise wait for the payment that
holds its shard's counter row to take a number. Existing orders are counted now.

On SQLite a later migration that rebuilds ``orders`` (Alembic's batch mode copies the table)
drops these triggers with the old table and must create them again; the tests compare every
tally with a count after each kind of move, so a lost trigger does not go unnoticed.

Revision ID: 0008_queue_tallies
Revises: 0007_queue_indexes
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_queue_tallies"
down_revision: str | None = "0007_queue_indexes"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SHARDS = 16
STATUSES = "('allocated', 'locked', 'ready', 'reserved')"


def counted(row: str) -> str:
    """Whether ``row`` (OLD or NEW) counts: a numbered order, locked, still waiting."""
    return (
        f"({row}.queue_number IS NOT NULL AND {row}.locked_at IS NOT NULL "
        f"AND {row}.status IN {STATUSES})"
    )


def shard(row: str) -> str:
    return f"({row}.queue_number - 1) % {SHARDS} + 1"


def add(row: str, only_if: str = "TRUE") -> str:
    """Count ``row`` in its shard (the first order of a shard makes its row). SQLite wants a
    WHERE on the SELECT of an upsert, and its trigger bodies have no IF: hence ``only_if``."""
    return (
        "INSERT INTO queue_tallies (configuration_code, shard, locked_waiting) "
        f"SELECT {row}.configuration_code, {shard(row)}, 1 WHERE {only_if} "
        "ON CONFLICT (configuration_code, shard) "
        "DO UPDATE SET locked_waiting = queue_tallies.locked_waiting + 1"
    )


def remove(row: str, only_if: str = "TRUE") -> str:
    return (
        "UPDATE queue_tallies SET locked_waiting = locked_waiting - 1 "
        f"WHERE configuration_code = {row}.configuration_code AND shard = {shard(row)} "
        f"AND {only_if}"
    )


#: Nothing to do when the order counted before and after on the same shard (or neither).
CHANGED = (
    f"({counted('OLD')} OR {counted('NEW')}) AND NOT ({counted('OLD')} AND {counted('NEW')} "
    "AND OLD.configuration_code = NEW.configuration_code "
    "AND OLD.queue_number = NEW.queue_number)"
)

POSTGRES_FUNCTION = f"""
CREATE FUNCTION queue_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND {counted('OLD')} THEN
        {remove('OLD')};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND {counted('NEW')} THEN
        {add('NEW')};
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGERS = {
    "orders_queue_tally_insert": ("INSERT", counted("NEW")),
    "orders_queue_tally_update": ("UPDATE", CHANGED),
    "orders_queue_tally_delete": ("DELETE", counted("OLD")),
}
SQLITE_TRIGGERS = {
    "orders_queue_tally_insert": ("INSERT", counted("NEW"), [add("NEW")]),
    "orders_queue_tally_update": (
        "UPDATE",
        CHANGED,
        [remove("OLD", counted("OLD")), add("NEW", counted("NEW"))],
    ),
    "orders_queue_tally_delete": ("DELETE", counted("OLD"), [remove("OLD")]),
}


def upgrade() -> None:
    op.create_table(
        "queue_tallies",
        sa.Column("configuration_code", sa.String(16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("locked_waiting", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("configuration_code", "shard", name=op.f("pk_queue_tallies")),
    )
    op.execute(
        "INSERT INTO queue_tallies (configuration_code, shard, locked_waiting) "
        f"SELECT configuration_code, {shard('orders')}, count(*) FROM orders "
        f"WHERE {counted('orders')} GROUP BY configuration_code, {shard('orders')}"
    )
    if _postgres():
        op.execute(POSTGRES_FUNCTION)
        for name, (event, when) in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON orders FOR EACH ROW "
                f"WHEN ({when}) EXECUTE FUNCTION queue_tally()"
            )
    else:
        for name, (event, when, statements) in SQLITE_TRIGGERS.items():
            body = "; ".join(statements)
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON orders FOR EACH ROW "
                f"WHEN {when} BEGIN {body}; END"
            )


def downgrade() -> None:
    for name in POSTGRES_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON orders" if _postgres() else ""))
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS queue_tally()")
    op.drop_table("queue_tallies")


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"
