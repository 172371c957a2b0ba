"""Queue tallies: how many locked orders of a configuration still wait for their car, kept
by the database itself on each counter shard, so a buyer who has just locked learns their
place from 16 rows instead of counting every locked order ahead (tens of thousands on
launch night; docs/decisions.md, "Queue places").

A trigger on ``orders`` keeps ``queue_counters.locked_waiting`` exact whichever code path
moves an order (lock, automatic lock, cancellation, delivery, a hand-written fix): an order
counts on the shard its queue number came from while it is locked and waiting. Existing
orders are counted now.

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


def add(row: str, delta: str) -> str:
    return (
        f"UPDATE queue_counters SET locked_waiting = locked_waiting {delta} 1 "
        f"WHERE configuration_code = {row}.configuration_code "
        f"AND shard = ({row}.queue_number - 1) % {SHARDS} + 1"
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
        {add('OLD', '-')};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND {counted('NEW')} THEN
        {add('NEW', '+')};
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
    "orders_queue_tally_insert": ("INSERT", counted("NEW"), [add("NEW", "+")]),
    "orders_queue_tally_update": (
        "UPDATE",
        CHANGED,
        [f"{add('OLD', '-')} AND {counted('OLD')}", f"{add('NEW', '+')} AND {counted('NEW')}"],
    ),
    "orders_queue_tally_delete": ("DELETE", counted("OLD"), [add("OLD", "-")]),
}


def upgrade() -> None:
    with op.batch_alter_table("queue_counters") as batch_op:
        batch_op.add_column(
            sa.Column("locked_waiting", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE queue_counters SET locked_waiting = ("
        "SELECT count(*) FROM orders WHERE orders.configuration_code = "
        "queue_counters.configuration_code "
        f"AND (orders.queue_number - 1) % {SHARDS} + 1 = queue_counters.shard "
        f"AND {counted('orders')})"
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
    with op.batch_alter_table("queue_counters") as batch_op:
        batch_op.drop_column("locked_waiting")


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"
