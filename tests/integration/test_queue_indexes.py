"""Counting the orders ahead of a buyer reads only the partial queue indexes on PostgreSQL,
also in the generic plan a prepared statement ends up with (psycopg prepares a statement
after five uses), where the planner cannot look at the parameters' values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Database
from launch_world import add_edition, launch_world
from money_world import World
from psycopg import sql
from sqlalchemy import Connection

from marque.adapters.db.prepared import Prepared
from marque.adapters.db.repositories import queue_places
from marque.domain.identity import Actor, ActorKind, Role
from marque.services import orders, sales

SALES_STAFF = Actor(ActorKind.STAFF, id="S-launch", roles=frozenset({Role.SALES}))
BIND = re.compile(r"%\((\w+)\)s")


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    if seeded.name != "postgresql":
        pytest.skip("plans and prepared statements are PostgreSQL's")
    built = launch_world(seeded)
    yield built
    built.close()


def generic_plan(conn: Connection, statement: Prepared, **params: Any) -> str:
    """EXPLAIN of ``statement`` prepared on the server and planned without its values."""
    compiled = statement.statement.compile(dialect=conn.dialect)
    names = list(dict.fromkeys(BIND.findall(compiled.string)))
    numbered = BIND.sub(lambda m: f"${names.index(m.group(1)) + 1}", compiled.string)
    driver: Any = conn.connection.driver_connection
    values = [
        compiled.binds[name].effective_value if name not in params else params[name]
        for name in names
    ]
    arguments = sql.SQL(", ").join(sql.Literal(value) for value in values).as_string(driver)
    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    conn.exec_driver_sql(f"PREPARE ahead_plan AS {numbered}")
    try:
        rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE ahead_plan({arguments})").all()
    finally:
        conn.exec_driver_sql("DEALLOCATE ahead_plan")
    return "\n".join(str(row[0]) for row in rows)


def test_counting_the_queue_reads_only_the_waiting_orders_index_entries(world: World) -> None:
    edition = add_edition(world.container, cap=5)
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=world.clock())
    buyers = [world.buyer() for _ in range(4)]
    placed = []
    for buyer in buyers:
        reservation = world.reserve(buyer, edition.standard())
        world.pay(reservation.payment)
        placed.append(reservation.order.id)
    orders.lock(world.container, buyers[0], placed[0], confirm=True)
    locked, unlocked = world.order(placed[0]), world.order(placed[1])
    with world.container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE orders")  # index-only scans need the map
        # A handful of rows: without this a sequential scan would be as cheap as any plan.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_bitmapscan = off")

        assert locked.locked_at is not None
        assert unlocked.queue_number is not None
        plans = {
            "locked": generic_plan(
                conn,
                queue_places.AHEAD_OF_LOCKED,
                configuration=locked.configuration_code,
                queue_number=locked.queue_number,
                **queue_places.lock_time_params(locked.locked_at),
            ),
            "from the back": generic_plan(
                conn,
                queue_places.AHEAD_OF_LOCKED_FROM_THE_BACK,
                configuration=locked.configuration_code,
                queue_number=locked.queue_number,
                locked_at=locked.locked_at,
            ),
            "unlocked": generic_plan(
                conn,
                queue_places.AHEAD_OF_UNLOCKED,
                configuration=unlocked.configuration_code,
                queue_number=unlocked.queue_number,
                block=0,
                block_first=1,
            ),
        }

    for name, plan in plans.items():
        scans = re.findall(r"(\w[\w ]*Scan)(?: using (\w+))? on orders", plan)
        assert scans, f"{name}: no scan of orders in\n{plan}"
        for kind, index in scans:
            assert kind == "Index Only Scan", f"{name}: {kind} in\n{plan}"
            assert index in {"ix_orders_queue_locked", "ix_orders_queue_unlocked"}, plan
        # The tallies are read by their key (configuration, scale, a range of buckets).
        for kind, index in re.findall(r"(\w[\w ]*Scan)(?: using (\w+))? on queue_", plan):
            assert kind in {"Index Scan", "Index Only Scan"}, f"{name}: {kind} in\n{plan}"
            assert index in {"pk_queue_buckets", "pk_queue_tallies"}, plan
    assert "ix_orders_queue_locked" in plans["locked"]
    assert plans["locked"].count("pk_queue_buckets") == 4, plans["locked"]
    assert "ix_orders_queue_unlocked" in plans["unlocked"]
    assert "pk_queue_buckets" in plans["unlocked"]
