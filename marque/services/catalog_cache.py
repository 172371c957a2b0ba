"""A per-process cache of the catalogue data every reservation, payment and order page reads.

Reading a model takes eight statements (model, trims, groups, options, rules, books, book
entries, terms); the hot path must not pay them on every request. What is cached:

- a configuration code's choices (model, trim, options): a code is the hash of its choices,
  so this never changes; kept until the cache is full;
- a deposit terms document by (code, version): published versions are immutable (their
  content hash is checked when loaded); kept;
- a model with all its price books and terms versions: reloaded when older than
  ``ttl_seconds`` (``MARQUE_CATALOG_CACHE_SECONDS``) or when this process wrote the catalogue
  (bootstrap wires ``invalidate`` to catalogue writes). The book and terms in force are
  chosen from it at each call's ``now``, so a price book or opening time scheduled ahead
  applies at exactly its time; only a change made by ANOTHER process takes up to the TTL
  to be seen here;
- the priced configuration, per (configuration, price book, terms versions), inside the
  model's entry;
- the configurations this process stored or found stored, with the pricing and creation
  time they were stored with: configurations are never deleted, so asking for one again at
  the same prices needs no database at all (a launch's buyers choose among few). A stored
  configuration repriced by another process is only written again if this process prices
  it differently from what it last saw stored, which is harmless: the row then holds this
  process's pricing, which is what it answers and what its reservations charge.

Thread-safe by construction: entries are immutable and replaced whole; two threads that
miss at once both load, and one result wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from marque.domain import catalog
from marque.domain.catalog import (
    MESSAGES,
    CatalogErrorCode,
    DepositTerms,
    Model,
    ModelOffer,
    PriceBook,
    PricedConfiguration,
    current_terms,
)
from marque.domain.errors import NotFound
from marque.services.unit_of_work import UnitOfWork

#: Entries kept per kind before the oldest half is dropped.
MAX_ENTRIES = 20_000

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Choice:
    """What a configuration code stands for."""

    model_code: str
    trim_code: str
    option_codes: tuple[str, ...]


@dataclass
class ModelEntry:
    model: Model
    books: tuple[PriceBook, ...]
    terms: tuple[DepositTerms, ...]
    loaded_at: float
    priced: dict[tuple[str, str, tuple[tuple[str, int], ...]], PricedConfiguration] = field(
        default_factory=dict
    )

    def offer(self, now: datetime) -> ModelOffer | None:
        """The model as offered at ``now``; None when no price book or terms are in force."""
        book = PriceBook.current(self.books, now)
        if book is None:
            return None
        codes = {self.model.deposit_terms_code} | {
            trim.deposit_terms_code for trim in self.model.trims if trim.deposit_terms_code
        }
        in_force = {}
        for code in sorted(codes):
            terms = current_terms([t for t in self.terms if t.code == code], now)
            if terms is None:
                return None
            in_force[code] = terms
        return ModelOffer(model=self.model, price_book=book, terms=in_force)


def unknown_configuration(code: str) -> NotFound:
    return NotFound(
        MESSAGES[CatalogErrorCode.UNKNOWN_CONFIGURATION],
        code=CatalogErrorCode.UNKNOWN_CONFIGURATION,
        configuration=code,
    )


class CatalogCache:
    def __init__(
        self, ttl_seconds: float = 5.0, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._models: dict[str, ModelEntry] = {}
        self._choices: dict[str, Choice] = {}
        self._terms: dict[tuple[str, int], DepositTerms] = {}
        self._stored: dict[str, PricedConfiguration] = {}

    def invalidate(self) -> None:
        """Forget every model (choices and terms versions cannot change)."""
        self._models = {}

    # -- inside an open unit of work (misses are read through it) ---------------------------
    def model_in(self, uow: UnitOfWork, code: str) -> ModelEntry | None:
        entry = self._fresh(code)
        if entry is not None:
            return entry
        loaded_at = self._monotonic()
        model = uow.catalog.get_model(code)
        if model is None:
            return None
        books = uow.catalog.price_books(code)
        codes = {model.deposit_terms_code} | {
            t.deposit_terms_code for t in model.trims if t.deposit_terms_code
        }
        versions = uow.catalog.deposit_terms(sorted(codes))
        entry = ModelEntry(model, tuple(books), tuple(versions), loaded_at)
        if self.ttl_seconds > 0:
            self._models = {**self._models, code: entry}
        for terms in versions:
            self._keep(self._terms, (terms.code, terms.version), terms)
        return entry

    def choice_in(self, uow: UnitOfWork, code: str) -> Choice:
        """The model, trim and options of a stored configuration; NotFound if none."""
        found = self._choices.get(code)
        if found is not None:
            return found
        stored = uow.catalog.get_configuration(code)
        if stored is None:
            raise unknown_configuration(code)
        found = Choice(stored.model_code, stored.trim_code, stored.option_codes)
        self._keep(self._choices, code, found)
        return found

    def priced_in(
        self, uow: UnitOfWork, code: str, now: datetime
    ) -> tuple[PricedConfiguration, ModelOffer]:
        """The configuration priced by the book and terms in force at ``now``. Raises
        NotFound for an unknown code or a model no longer offered, and ValidationFailed
        when the catalogue no longer allows the configuration."""
        choice = self.choice_in(uow, code)
        return self._price(self.model_in(uow, choice.model_code), code, choice, now)

    def terms_in(self, uow: UnitOfWork, code: str, version: int) -> DepositTerms | None:
        """One published version of a terms document (immutable, so kept)."""
        found = self._terms.get((code, version))
        if found is None:
            found = uow.catalog.get_deposit_terms(code, version)
            if found is not None:
                self._keep(self._terms, (code, version), found)
        return found

    # -- configurations known to be stored -----------------------------------------------
    def stored(self, priced: PricedConfiguration) -> PricedConfiguration | None:
        """The stored configuration of ``priced``'s code if this process knows it is stored
        with the same pricing (then with its creation time), else None."""
        known = self._stored.get(priced.code)
        return known if known is not None and known.same_pricing(priced) else None

    def remember_stored(self, configuration: PricedConfiguration) -> None:
        self._keep(self._stored, configuration.code, configuration)

    # -- without a unit of work (one is opened, read-only, only on a miss) -----------------
    def priced(
        self, uow_factory: Callable[..., UnitOfWork], code: str, now: datetime
    ) -> tuple[PricedConfiguration, ModelOffer]:
        choice = self._choices.get(code)
        entry = None if choice is None else self._fresh(choice.model_code)
        if choice is not None and entry is not None:
            return self._price(entry, code, choice, now)
        with uow_factory(readonly=True) as uow:
            return self.priced_in(uow, code, now)

    def offer(
        self, uow_factory: Callable[..., UnitOfWork], code: str, now: datetime
    ) -> ModelOffer | None:
        entry = self._fresh(code)
        if entry is None:
            with uow_factory(readonly=True) as uow:
                entry = self.model_in(uow, code)
        return None if entry is None else entry.offer(now)

    # -- the parts --------------------------------------------------------------------------
    def _fresh(self, code: str) -> ModelEntry | None:
        entry = self._models.get(code)
        if entry is not None and self._monotonic() - entry.loaded_at < self.ttl_seconds:
            return entry
        return None

    @staticmethod
    def _price(
        entry: ModelEntry | None, code: str, choice: Choice, now: datetime
    ) -> tuple[PricedConfiguration, ModelOffer]:
        offer = None if entry is None else entry.offer(now)
        if entry is None or offer is None:
            raise NotFound(
                MESSAGES[CatalogErrorCode.UNKNOWN_MODEL],
                code=CatalogErrorCode.UNKNOWN_MODEL,
                model=choice.model_code,
            )
        key = (
            code,
            offer.price_book.code,
            tuple(sorted((t.code, t.version) for t in offer.terms.values())),
        )
        priced = entry.priced.get(key)
        if priced is None:
            priced = catalog.configure(offer, choice.trim_code, choice.option_codes, now=now)
            if len(entry.priced) < MAX_ENTRIES:
                entry.priced[key] = priced
        return priced, offer

    @staticmethod
    def _keep(store: dict[K, V], key: K, value: V) -> None:
        if len(store) >= MAX_ENTRIES:
            for old in list(store)[: MAX_ENTRIES // 2]:
                store.pop(old, None)
        store[key] = value


__all__ = ["CatalogCache", "Choice", "ModelEntry", "unknown_configuration"]
