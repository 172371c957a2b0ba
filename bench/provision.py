"""Setting the stage in the database directly: signed-in buyers, sales open, a cap.

Signing in thousands of buyers through SMS codes would hit the per-client rate limits (as
it should), so buyers are written the way ``marque.services.auth`` writes them after a
successful SMS login: a customer row and a bearer token whose sha256 is stored, in bulk
inserts of a few thousand rows. Nothing else in marque is bypassed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from marque.adapters.db.tables.auth import auth_tokens, customers
from marque.adapters.db.tables.catalog import models, trims
from marque.domain.auth import hash_token, new_reference, new_token
from marque.domain.credentials import TokenKind
from marque.domain.identity import ActorKind

BATCH = 2000


@dataclass(frozen=True)
class Buyer:
    id: str
    token: str


def _phones(count: int) -> Iterator[str]:
    """Distinct mainland-looking mobile numbers (199 + 8 digits), random per run."""
    seen: set[str] = set()
    while len(seen) < count:
        phone = "199" + f"{secrets.randbelow(10**8):08d}"
        if phone not in seen:
            seen.add(phone)
            yield phone


def provision_buyers(
    engine: Engine, count: int, *, ttl: timedelta = timedelta(days=1)
) -> list[Buyer]:
    """``count`` new customers, each with a live bearer token, inserted in batches."""
    now = datetime.now(UTC)
    buyers: list[Buyer] = []
    phones = _phones(count)
    while len(buyers) < count:
        size = min(BATCH, count - len(buyers))
        batch = [Buyer(new_reference("C-"), new_token()) for _ in range(size)]
        customer_rows = [
            {"id": buyer.id, "phone": next(phones), "created_at": now} for buyer in batch
        ]
        token_rows = [
            {
                "token_hash": hash_token(buyer.token),
                "kind": str(TokenKind.BEARER),
                "actor_kind": str(ActorKind.CUSTOMER),
                "actor_id": buyer.id,
                "created_at": now,
                "expires_at": now + ttl,
                "client_ip": "bench",
            }
            for buyer in batch
        ]
        try:
            with engine.begin() as conn:
                conn.execute(insert(customers), customer_rows)
                conn.execute(insert(auth_tokens), token_rows)
        except IntegrityError:
            continue  # a phone or id of an earlier run came up again: draw the batch anew
        buyers.extend(batch)
    return buyers


def open_sales(engine: Engine, model_code: str, at: datetime | None = None) -> datetime:
    """The model and its trims go on sale at ``at`` (default: now)."""
    moment = at or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(update(models).where(models.c.code == model_code).values(on_sale_at=moment))
        conn.execute(
            update(trims).where(trims.c.model_code == model_code).values(on_sale_at=moment)
        )
    return moment


def set_unit_cap(engine: Engine, model_code: str, trim_code: str, cap: int) -> None:
    with engine.begin() as conn:
        changed = conn.execute(
            update(trims)
            .where(trims.c.model_code == model_code, trims.c.code == trim_code)
            .where(trims.c.limited_edition.is_(True))
            .values(unit_cap=cap)
        )
    if changed.rowcount != 1:
        raise SystemExit(f"{model_code}/{trim_code} is not a limited edition")


def limited_caps(engine: Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(trims.c.model_code, trims.c.code, trims.c.unit_cap).where(
                trims.c.limited_edition.is_(True)
            )
        ).all()
    return {(row.model_code, row.code): int(row.unit_cap) for row in rows}
