"""Sales opening: setting when a model or trim goes on sale, and how each trim stands.

Staff with the sales role (or admins) set opening times through the API; operators use
``marque sales open``. Setting a model's time sets all its trims too; setting one trim
changes only it (it still waits for its model). Opening a limited edition also creates its
numbered units, so the first buyers do not pay for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marque.domain.errors import Forbidden
from marque.domain.identity import Actor, ActorKind, Role
from marque.domain.launch import EditionStock, is_on_sale, opening_time, unknown_trim
from marque.services import catalog as catalog_service
from marque.services.context import AppContext

#: Staff roles that may open sales (admins hold every role).
OPENERS = frozenset({Role.SALES})


@dataclass(frozen=True)
class TrimSale:
    code: str
    #: When this trim can be reserved (the later of the model's and the trim's times).
    opens_at: datetime | None
    on_sale: bool
    limited_edition: bool
    stock: EditionStock | None


@dataclass(frozen=True)
class SalesStatus:
    model_code: str
    opens_at: datetime | None
    trims: list[TrimSale]


def _ensure_opener(actor: Actor) -> None:
    if actor.kind is ActorKind.SYSTEM:
        return
    if not actor.is_staff or not actor.has_any(OPENERS):
        raise Forbidden()


def sales_status(ctx: AppContext, actor: Actor, model_code: str) -> SalesStatus:
    """Each trim's opening time, whether it is on sale now, and a limited edition's units."""
    _ensure_opener(actor)
    now = ctx.clock()
    if not catalog_service.MODEL_CODE.fullmatch(model_code):
        raise catalog_service.unknown_model(model_code)
    with ctx.uow(readonly=True) as uow:
        model = uow.catalog.get_model(model_code)
        if model is None:
            raise catalog_service.unknown_model(model_code)
        trims = [
            TrimSale(
                code=trim.code,
                opens_at=opening_time(model, trim.code),
                on_sale=is_on_sale(model, trim.code, now),
                limited_edition=trim.limited_edition,
                stock=uow.launch.stock(model.code, trim.code, now)
                if trim.limited_edition
                else None,
            )
            for trim in model.trims
        ]
    return SalesStatus(model.code, model.on_sale_at, trims)


def open_sales(
    ctx: AppContext,
    actor: Actor,
    model_code: str,
    *,
    trim_code: str | None = None,
    at: datetime | None = None,
) -> SalesStatus:
    """Set when ``model_code`` (with all its trims) or one of its trims goes on sale:
    ``at`` (default: now). A time in the past opens at once; one in the future holds
    reservations back until then (``sales.not_open``)."""
    _ensure_opener(actor)
    moment = at or ctx.clock()
    if moment.tzinfo is None:
        raise ValueError("opening times must be timezone-aware")
    if not catalog_service.MODEL_CODE.fullmatch(model_code):
        raise catalog_service.unknown_model(model_code)
    with ctx.uow() as uow:
        model = uow.catalog.get_model(model_code)
        if model is None:
            raise catalog_service.unknown_model(model_code)
        if trim_code is not None and model.trim(trim_code) is None:
            raise unknown_trim(model_code, trim_code[:32])
        uow.launch.set_on_sale(model_code, trim_code, moment)
        for trim in model.trims:
            if trim.limited_edition and trim_code in (None, trim.code):
                uow.launch.ensure_units(model_code, trim.code)
        uow.commit()
    # This process sees the change at once (bootstrap invalidates the cache on catalogue
    # writes); other server processes within MARQUE_CATALOG_CACHE_SECONDS.
    ctx.catalog_cache.invalidate()
    return sales_status(ctx, actor, model_code)


__all__ = ["OPENERS", "SalesStatus", "TrimSale", "open_sales", "sales_status"]
