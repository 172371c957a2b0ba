"""The catalogue on both engines: what is stored is what comes back, configurations are
stored once per code, and a new price book reprices without changing the code."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from marque.adapters.clock import FrozenClock
from marque.bootstrap import Container, bootstrap
from marque.domain.catalog import LocalizedText, Model, PriceBook
from marque.domain.errors import NotFound, ValidationFailed
from marque.domain.money import Money
from marque.services import catalog as catalog_service
from marque.services.demo_catalog import demo_catalogue, seed_demo_catalog
from marque.services.demo_deposit_terms import intent_terms

#: Test-only models are priced only in this far-away window, so nothing else ever lists them.
FAR = datetime(2090, 1, 1, tzinfo=UTC)


def test_the_demo_catalogue_comes_back_exactly_as_it_was_stored(container: Container) -> None:
    demo = demo_catalogue()
    with container.uow(readonly=True) as uow:
        for model in demo.models:
            assert uow.catalog.get_model(model.code) == model
            assert uow.catalog.price_books(model.code) == [
                b for b in demo.price_books if b.model_code == model.code
            ]
        stored_terms = uow.catalog.deposit_terms([t.code for t in demo.terms])
    assert {(t.code, t.content_hash) for t in stored_terms} == {
        (t.code, t.content_hash) for t in demo.terms
    }


def test_seeding_twice_changes_nothing(container: Container) -> None:
    assert seed_demo_catalog(container.uow(), container.clock()) is False
    with container.uow(readonly=True) as uow:
        codes = [model.code for model in uow.catalog.list_models()]
    assert codes.count("arc") == 1
    assert codes.count("vista") == 1


def test_list_models_offers_the_demo_models_in_order(container: Container) -> None:
    offers = catalog_service.list_models(container)
    codes = [offer.model.code for offer in offers]

    assert codes.index("arc") < codes.index("vista")
    assert all(offer.price_book.currency == "CNY" for offer in offers)


def test_an_unknown_model_is_not_found(container: Container) -> None:
    with pytest.raises(NotFound) as caught:
        catalog_service.get_model(container, "no-such-model")
    assert caught.value.code == "catalog.unknown_model"


def test_configuring_stores_once_and_reads_back_by_code(container: Container) -> None:
    # a pack set no other test uses, so that this test creates a configuration of its own
    packs = ["pack-pilot-plus", "pack-winter", "pack-sound", "pack-comfort", "pack-lounge"]
    chosen = [secrets.choice(["paint-solar-red", "paint-midnight-blue"]), *packs]
    trim = secrets.choice(["pro", "max"])

    first = catalog_service.configure(container, "vista", trim, chosen)
    again = catalog_service.configure(container, "vista", trim, list(reversed(chosen)))

    assert again.created is False
    assert again.configuration.code == first.configuration.code
    stored = catalog_service.get_configuration(container, first.configuration.code)
    assert stored.total_price == first.configuration.total_price
    assert stored.options == first.configuration.options
    assert stored.deposit_terms == first.configuration.deposit_terms


def test_a_broken_configuration_is_not_stored(container: Container) -> None:
    with pytest.raises(ValidationFailed):
        catalog_service.configure(container, "arc", "standard", ["wheels-21-forged"])


def test_an_unknown_configuration_is_not_found(container: Container) -> None:
    with pytest.raises(NotFound) as caught:
        catalog_service.get_configuration(container, "CFG-AAAAAAAAAA")
    assert caught.value.code == "catalog.unknown_configuration"


@pytest.fixture
def far_model(container: Container) -> Iterator[tuple[Container, FrozenClock, Model]]:
    """A copy of the Arc under a random code, priced only from 2090, and a clock in 2090."""
    arc = demo_catalogue().offer("arc").model
    code = f"t{secrets.token_hex(6)}"
    model = dataclasses.replace(
        arc, code=code, deposit_terms_code=f"{code}-intent", name=LocalizedText("测", "Test")
    )
    terms = intent_terms(f"{code}-intent", model.name, FAR)
    book = PriceBook(
        f"{code}-1", code, "CNY", FAR, None, {"standard": 20_000_000, "founders": 30_000_000}, {}
    )
    with container.uow() as uow:
        uow.catalog.add_deposit_terms(terms, now=FAR)
        uow.catalog.add_model(model, position=99, now=FAR)
        uow.catalog.add_price_book(book, now=FAR)
        uow.commit()
    clock = FrozenClock(FAR + timedelta(days=1))
    frozen = bootstrap(container.settings, clock=clock)
    yield frozen, clock, model
    frozen.close()


def test_models_without_a_price_book_in_force_are_not_offered(
    container: Container, far_model: tuple[Container, FrozenClock, Model]
) -> None:
    _frozen, _clock, model = far_model

    assert model.code not in [o.model.code for o in catalog_service.list_models(container)]
    with pytest.raises(NotFound):
        catalog_service.get_model(container, model.code)


def test_a_new_price_book_reprices_the_same_code(
    far_model: tuple[Container, FrozenClock, Model],
) -> None:
    frozen, clock, model = far_model
    first = catalog_service.configure(frozen, model.code, "standard", ["pack-sound"])
    assert first.created
    assert first.configuration.total_price == Money.of_major(200_000, "CNY")

    raised = PriceBook(
        f"{model.code}-2",
        model.code,
        "CNY",
        FAR + timedelta(days=2),
        None,
        {"standard": 21_000_000},
        {"pack-sound": 500_000},
    )
    with frozen.uow() as uow:
        uow.catalog.add_price_book(raised, now=clock())
        uow.commit()
    clock.advance(days=2)
    again = catalog_service.configure(frozen, model.code, "standard", ["pack-sound"])

    assert again.created is False
    assert again.configuration.code == first.configuration.code
    assert again.configuration.total_price == Money.of_major(215_000, "CNY")
    assert again.configuration.created_at == first.configuration.created_at
    stored = catalog_service.get_configuration(frozen, first.configuration.code)
    assert stored.price_book_code == raised.code
    assert stored.total_price == Money.of_major(215_000, "CNY")


@pytest.mark.parametrize("code", ["a\x00b", "", "x" * 200, "arc;drop"])
def test_a_model_code_that_cannot_exist_is_not_found_without_a_database_error(
    container: Container, code: str
) -> None:
    with pytest.raises(NotFound):
        catalog_service.get_model(container, code)
    with pytest.raises(NotFound):
        catalog_service.configure(container, code, "standard", [])


@pytest.mark.parametrize("code", ["CFG-\x00AAAAAAAAA", "cfg-aaaaaaaaaa", "CFG-AAAAAAAAAAA"])
def test_a_configuration_code_that_cannot_exist_is_not_found(
    container: Container, code: str
) -> None:
    with pytest.raises(NotFound):
        catalog_service.get_configuration(container, code)
