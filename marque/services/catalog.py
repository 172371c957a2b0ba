"""Catalogue use cases: browse the models, configure one, read a configuration back."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from marque.domain import catalog
from marque.domain.catalog import (
    MESSAGES,
    CatalogErrorCode,
    Model,
    ModelOffer,
    PriceBook,
    PricedConfiguration,
    current_terms,
)
from marque.domain.errors import NotFound
from marque.services.catalog_ports import CatalogRepository
from marque.services.context import AppContext

#: What a model or configuration code can look like; anything else cannot exist, so it is
#: refused before it reaches the database (PostgreSQL rejects e.g. NUL characters outright).
MODEL_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
CONFIGURATION_CODE = re.compile(r"CFG-[A-Z2-7]{10}")


@dataclass(frozen=True)
class ConfigureResult:
    configuration: PricedConfiguration
    #: True when this call stored the configuration for the first time.
    created: bool


def unknown_model(code: str) -> NotFound:
    return NotFound(
        MESSAGES[CatalogErrorCode.UNKNOWN_MODEL], code=CatalogErrorCode.UNKNOWN_MODEL, model=code
    )


def offer_for(repo: CatalogRepository, model: Model, now: datetime) -> ModelOffer | None:
    """The model as offered at ``now``; None when no price book or terms are in force."""
    book = PriceBook.current(repo.price_books(model.code), now)
    if book is None:
        return None
    codes = sorted(
        {model.deposit_terms_code}
        | {trim.deposit_terms_code for trim in model.trims if trim.deposit_terms_code}
    )
    versions = repo.deposit_terms(codes)
    terms = {}
    for code in codes:
        in_force = current_terms([t for t in versions if t.code == code], now)
        if in_force is None:
            return None
        terms[code] = in_force
    return ModelOffer(model=model, price_book=book, terms=terms)


def list_models(ctx: AppContext, now: datetime | None = None) -> list[ModelOffer]:
    """The models on offer at ``now`` (default: the clock), in catalogue order."""
    moment = now or ctx.clock()
    with ctx.uow(readonly=True) as uow:
        offers = [offer_for(uow.catalog, model, moment) for model in uow.catalog.list_models()]
    return [offer for offer in offers if offer is not None]


def get_model(ctx: AppContext, model_code: str, now: datetime | None = None) -> ModelOffer:
    """One model with its price book and deposit terms in force, or NotFound."""
    moment = now or ctx.clock()
    if not MODEL_CODE.fullmatch(model_code):
        raise unknown_model(model_code)
    with ctx.uow(readonly=True) as uow:
        model = uow.catalog.get_model(model_code)
        offer = None if model is None else offer_for(uow.catalog, model, moment)
    if offer is None:
        raise unknown_model(model_code)
    return offer


def configure(
    ctx: AppContext, model_code: str, trim_code: str, options: Sequence[str]
) -> ConfigureResult:
    """Validate and price a configuration and store it under its stable code.

    The same choices always give the same code. Asking again returns the stored
    configuration, repriced if the price book or terms in force have changed since.
    Raises NotFound for an unknown model and ValidationFailed listing every broken rule.
    """
    now = ctx.clock()
    if not MODEL_CODE.fullmatch(model_code):
        raise unknown_model(model_code)
    cache = ctx.catalog_cache
    # From the process's catalogue cache, as reserve prices it: eight statements less on
    # every configure of a launch, and the price a buyer sees is the one they reserve at.
    offer = cache.offer(ctx.uow, model_code, now)
    if offer is None:
        raise unknown_model(model_code)
    priced = catalog.configure(offer, trim_code, options, now=now)
    known = cache.stored(priced)
    if known is not None:  # stored already, at these prices: no transaction at all
        return ConfigureResult(dataclasses.replace(priced, created_at=known.created_at), False)
    with ctx.uow() as uow:
        if uow.catalog.add_configuration(priced):
            uow.commit()
            cache.remember_stored(priced)
            return ConfigureResult(priced, created=True)
        stored = uow.catalog.get_configuration(priced.code)
        assert stored is not None
        if not stored.same_pricing(priced):
            uow.catalog.reprice_configuration(priced)
        uow.commit()
    answer = dataclasses.replace(priced, created_at=stored.created_at)
    cache.remember_stored(answer)
    return ConfigureResult(answer, created=False)


def get_configuration(ctx: AppContext, code: str) -> PricedConfiguration:
    found = None
    if CONFIGURATION_CODE.fullmatch(code):
        with ctx.uow(readonly=True) as uow:
            found = uow.catalog.get_configuration(code)
    if found is None:
        raise NotFound(
            MESSAGES[CatalogErrorCode.UNKNOWN_CONFIGURATION],
            code=CatalogErrorCode.UNKNOWN_CONFIGURATION,
            configuration=code,
        )
    return found
