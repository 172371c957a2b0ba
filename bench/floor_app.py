"""The issue's reference endpoint, served by ``bench/floor.py``: FastAPI and asyncpg, one
durable idempotent INSERT per request, and nothing of marque.

It measures what the stack costs on this machine before marque does anything: uvicorn,
FastAPI's request handling and validation, a pooled asyncpg connection and one committed
statement. A repeated ``Idempotency-Key`` gets the first request's id back (a second
statement, as a retry costs marque too).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

TABLE = "floor_reservations"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, key text NOT NULL UNIQUE, "
    "buyer text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)
INSERT = (
    f"INSERT INTO {TABLE} (key, buyer) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING id"
)
EXISTING = f"SELECT id, buyer FROM {TABLE} WHERE key = $1"
DSN_VARIABLE = "FLOOR_DSN"
POOL_SIZE = 10


class ReserveIn(BaseModel):
    buyer: str = Field(min_length=1, max_length=64)


class ReservedOut(BaseModel):
    id: int


async def _keep_as_is(_: asyncpg.Connection) -> None:
    return None


def create() -> FastAPI:
    """The app (uvicorn ``--factory``); its database is ``$FLOOR_DSN`` (a libpq URL)."""
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The handler leaves no session state behind, so a connection goes back to the pool
        # without asyncpg's reset statement (a round trip per request).
        pools.append(
            await asyncpg.create_pool(
                os.environ[DSN_VARIABLE], min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_keep_as_is
            )
        )
        yield
        await pools.pop().close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/reserve", status_code=201)
    async def reserve(
        body: ReserveIn, idempotency_key: Annotated[str, Header(max_length=64)]
    ) -> ReservedOut:
        async with pools[0].acquire() as conn:
            new_id = await conn.fetchval(INSERT, idempotency_key, body.buyer)
            if new_id is not None:
                return ReservedOut(id=new_id)
            row = await conn.fetchrow(EXISTING, idempotency_key)
        if row is None or row["buyer"] != body.buyer:
            raise HTTPException(409, "the key was used for another request")
        return ReservedOut(id=row["id"])

    return app
