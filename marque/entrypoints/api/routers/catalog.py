"""Catalogue and configurator API: public, localized by Accept-Language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from marque.domain.catalog import ModelOffer, PricedConfiguration, describe_rule
from marque.entrypoints.api.blocking import run_blocking
from marque.entrypoints.api.deps import ContainerDep, TranslatorDep
from marque.entrypoints.api.routers.catalog_schemas import (
    ConfigurationIn,
    ConfigurationOut,
    ConfiguredOptionOut,
    ModelDetail,
    ModelList,
    ModelSummary,
    MoneyOut,
    OptionGroupOut,
    OptionOut,
    PriceBookRef,
    RuleOut,
    TermsOut,
    TrimOut,
)
from marque.i18n import Translator
from marque.services import catalog as catalog_service

router = APIRouter(tags=["catalog"])

PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown model or configuration (problem+json)", "content": PROBLEM}
}


@router.get("/models", response_model=ModelList, summary="The models on sale")
def list_models(container: ContainerDep, _: TranslatorDep) -> ModelList:
    items = []
    for offer in catalog_service.list_models(container):
        from_price = offer.from_price
        if from_price is None:
            continue
        model = offer.model
        items.append(
            ModelSummary(
                code=model.code,
                name=model.name.pick(_.locale),
                body_type=model.body_type,
                tagline=model.tagline.pick(_.locale),
                from_price=MoneyOut.of(from_price),
                on_sale_at=model.on_sale_at,
            )
        )
    return ModelList(items=items)


@router.get(
    "/models/{model_code}",
    response_model=ModelDetail,
    summary="One model: trims, options, rules, prices and deposit terms in force",
    responses=NOT_FOUND,
)
def get_model(model_code: str, container: ContainerDep, _: TranslatorDep) -> ModelDetail:
    return model_detail(catalog_service.get_model(container, model_code), _)


@router.post(
    "/configurations",
    response_model=ConfigurationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Validate and price a configuration; the same choices always give the same code",
    responses={
        200: {"description": "This configuration was stored before", "model": ConfigurationOut},
        404: {"description": "Unknown model (problem+json)", "content": PROBLEM},
        422: {
            "description": "catalog.configuration_invalid listing every broken rule, or a "
            "malformed body (problem+json)",
            "content": PROBLEM,
        },
    },
)
async def create_configuration(
    body: ConfigurationIn, response: Response, container: ContainerDep, _: TranslatorDep
) -> ConfigurationOut:
    result = await run_blocking(
        lambda: catalog_service.configure(container, body.model, body.trim, body.options),
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return configuration_out(result.configuration, _)


@router.get(
    "/configurations/{code}",
    response_model=ConfigurationOut,
    summary="A configuration stored earlier, by its code",
    responses=NOT_FOUND,
)
def get_configuration(code: str, container: ContainerDep, _: TranslatorDep) -> ConfigurationOut:
    return configuration_out(catalog_service.get_configuration(container, code), _)


def model_detail(offer: ModelOffer, _: Translator) -> ModelDetail:
    model, book, locale = offer.model, offer.price_book, _.locale
    trims = []
    for trim in model.trims:
        price = book.trim_price(trim.code)
        if price is None:
            continue  # not for sale under this book
        trims.append(
            TrimOut(
                code=trim.code,
                name=trim.name.pick(locale),
                base_price=MoneyOut.of(price),
                limited_edition=trim.limited_edition,
                unit_cap=trim.unit_cap,
                on_sale_at=trim.on_sale_at,
                deposit_terms=TermsOut.of(offer.terms_for(trim.code), locale),
            )
        )
    groups = [
        OptionGroupOut(
            code=group.code,
            name=group.name.pick(locale),
            selection=group.selection.value,
            default_option=group.default_option,
            options=[
                OptionOut(
                    code=option.code,
                    name=option.name.pick(locale),
                    price=MoneyOut.of(book.option_price(option.code)),
                    description=option.description.pick(locale),
                )
                for option in group.options
            ],
        )
        for group in model.option_groups
    ]
    rules = []
    for rule in model.rules:
        template, params = describe_rule(model, rule)
        rules.append(
            RuleOut(
                code=rule.code,
                kind=rule.kind.value,
                option=rule.option,
                targets=list(rule.targets),
                message=_(template, **params),
            )
        )
    return ModelDetail(
        code=model.code,
        name=model.name.pick(locale),
        body_type=model.body_type,
        tagline=model.tagline.pick(locale),
        currency=book.currency,
        on_sale_at=model.on_sale_at,
        price_book=PriceBookRef(code=book.code, effective_from=book.effective_from),
        trims=trims,
        option_groups=groups,
        rules=rules,
        deposit_terms=TermsOut.of(offer.model_terms, locale),
    )


def configuration_out(configuration: PricedConfiguration, _: Translator) -> ConfigurationOut:
    return ConfigurationOut(
        code=configuration.code,
        model=configuration.model_code,
        trim=configuration.trim_code,
        options=[
            ConfiguredOptionOut(
                code=option.code,
                group=option.group,
                name=option.name.pick(_.locale),
                price=MoneyOut.of(option.price),
            )
            for option in configuration.options
        ],
        base_price=MoneyOut.of(configuration.base_price),
        options_price=MoneyOut.of(configuration.options_price),
        total_price=MoneyOut.of(configuration.total_price),
        price_book=configuration.price_book_code,
        deposit_terms=TermsOut.of(configuration.deposit_terms, _.locale),
        created_at=configuration.created_at,
    )
