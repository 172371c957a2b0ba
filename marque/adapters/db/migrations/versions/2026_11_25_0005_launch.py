"""Launch night: numbered limited-edition units and sharded queue counters.

Existing data is carried over: every limited-edition trim gets its units 1..cap; live
limited-edition orders take units in the order they were reserved (paid ones as sold,
unpaid ones held until their payment window closes); paid orders without a queue number get
one per configuration in the order they were paid, and the counters continue after them.

Revision ID: 0005_launch
Revises: 0004_orders
Create Date: 2026-11-25
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import marque.adapters.db.metadata

revision: str = "0005_launch"
down_revision: str | None = "0004_orders"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

UtcDateTime = marque.adapters.db.metadata.UtcDateTime

FREE = datetime(1970, 1, 1, tzinfo=UTC)
SOLD = datetime(9999, 12, 31, tzinfo=UTC)
SHARDS = 16
PAID = ("reserved", "locked", "allocated", "ready", "delivered")

units = sa.table(
    "edition_units",
    sa.column("model_code", sa.String),
    sa.column("trim_code", sa.String),
    sa.column("number", sa.Integer),
    sa.column("order_id", sa.String),
    sa.column("held_until", UtcDateTime()),
    sa.column("taken_at", UtcDateTime()),
)
counters = sa.table(
    "queue_counters",
    sa.column("configuration_code", sa.String),
    sa.column("shard", sa.Integer),
    sa.column("last", sa.Integer),
)
trims = sa.table(
    "trims",
    sa.column("model_code", sa.String),
    sa.column("code", sa.String),
    sa.column("limited_edition", sa.Boolean),
    sa.column("unit_cap", sa.Integer),
)
orders = sa.table(
    "orders",
    sa.column("id", sa.String),
    sa.column("model_code", sa.String),
    sa.column("trim_code", sa.String),
    sa.column("configuration_code", sa.String),
    sa.column("limited_edition", sa.Boolean),
    sa.column("status", sa.String),
    sa.column("expires_at", UtcDateTime()),
    sa.column("paid_at", UtcDateTime()),
    sa.column("created_at", UtcDateTime()),
    sa.column("queue_number", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "edition_units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("trim_code", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(20), nullable=True),
        sa.Column("held_until", UtcDateTime(), nullable=False),
        sa.Column("taken_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_units")),
        sa.UniqueConstraint(
            "model_code",
            "trim_code",
            "number",
            name=op.f("uq_edition_units_model_code_trim_code_number"),
        ),
        sa.UniqueConstraint("order_id", name=op.f("uq_edition_units_order_id")),
    )
    op.create_index(
        "ix_edition_units_free",
        "edition_units",
        ["model_code", "trim_code", "held_until", "number"],
    )
    op.create_table(
        "queue_counters",
        sa.Column("configuration_code", sa.String(16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("configuration_code", "shard", name=op.f("pk_queue_counters")),
    )
    _carry_over_units()
    _carry_over_queue_numbers()


def _carry_over_units() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    editions = bind.execute(
        sa.select(trims.c.model_code, trims.c.code, trims.c.unit_cap).where(
            trims.c.limited_edition.is_(True), trims.c.unit_cap.is_not(None)
        )
    ).all()
    for model_code, trim_code, cap in editions:
        live = bind.execute(
            sa.select(orders.c.id, orders.c.status, orders.c.expires_at)
            .where(
                orders.c.model_code == model_code,
                orders.c.trim_code == trim_code,
                orders.c.status.in_(("pending_payment", *PAID)),
            )
            .order_by(orders.c.created_at, orders.c.id)
        ).all()
        rows = []
        for number in range(1, int(cap) + 1):
            row = {
                "model_code": model_code,
                "trim_code": trim_code,
                "number": number,
                "order_id": None,
                "held_until": FREE,
                "taken_at": None,
            }
            if number <= len(live):
                order_id, status, expires_at = live[number - 1]
                held = SOLD if status in PAID else (expires_at or FREE)
                row.update(order_id=order_id, held_until=held, taken_at=now)
            rows.append(row)
        if rows:
            op.bulk_insert(units, rows)


def _carry_over_queue_numbers() -> None:
    bind = op.get_bind()
    paid = bind.execute(
        sa.select(orders.c.id, orders.c.configuration_code, orders.c.queue_number, orders.c.status)
        .where(orders.c.paid_at.is_not(None))
        .order_by(orders.c.configuration_code, orders.c.paid_at, orders.c.id)
    ).all()
    highest: dict[str, int] = defaultdict(int)
    for _, code, number, _ in paid:
        if number is not None:
            highest[code] = max(highest[code], int(number))
    for order_id, code, number, _ in paid:
        if number is None:
            highest[code] += 1
            bind.execute(
                sa.update(orders).where(orders.c.id == order_id).values(queue_number=highest[code])
            )
    rows = []
    for code, top in highest.items():
        for shard in range(1, SHARDS + 1):
            # The largest number of this shard's sequence (shard, shard + SHARDS ...) <= top.
            last = shard + ((top - shard) // SHARDS) * SHARDS if top >= shard else shard - SHARDS
            rows.append({"configuration_code": code, "shard": shard, "last": last})
    if rows:
        op.bulk_insert(counters, rows)


def downgrade() -> None:
    op.drop_table("queue_counters")
    op.drop_index("ix_edition_units_free", table_name="edition_units")
    op.drop_table("edition_units")
