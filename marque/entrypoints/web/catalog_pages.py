"""The catalogue and the configurator pages, rendered from marque.services.catalog."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from marque.domain.errors import N_, ValidationFailed
from marque.entrypoints.web.configurator_view import (
    choice_from_query,
    configurator_context,
    violation_messages,
)
from marque.entrypoints.web.opening_view import opening_view
from marque.entrypoints.web.rendering import render, translator_of
from marque.entrypoints.web.session import container_of
from marque.services import catalog as catalog_service

router = APIRouter(include_in_schema=False)

BODY_TYPES: Final[dict[str, str]] = {"sedan": N_("Sedan"), "suv": N_("SUV")}


@router.get("/", response_class=HTMLResponse)
def catalogue_page(request: Request) -> Response:
    container = container_of(request)
    _ = translator_of(request)
    now = container.clock()
    models = []
    for offer in catalog_service.list_models(container, now):
        model = offer.model
        on_sale = model.on_sale_at
        models.append(
            {
                "code": model.code,
                "name": model.name.pick(_.locale),
                "body_type": _(BODY_TYPES[model.body_type])
                if model.body_type in BODY_TYPES
                else model.body_type,
                "tagline": model.tagline.pick(_.locale),
                "from_price": offer.from_price,
                "on_sale_label": _(N_("On sale from {date}"), date=on_sale.date().isoformat())
                if on_sale is not None and on_sale > now
                else "",
                "opening": opening_view(on_sale, now, _),
            }
        )
    return render(request, "catalogue.html", models=models)


@router.get("/models/{model_code}", response_class=HTMLResponse)
def configurator_page(request: Request, model_code: str) -> Response:
    container = container_of(request)
    _ = translator_of(request)
    offer = catalog_service.get_model(container, model_code)  # NotFound -> the 404 page
    choice = choice_from_query(offer, request.query_params)
    try:
        result = catalog_service.configure(container, offer.model.code, choice.trim, choice.options)
    except ValidationFailed as exc:
        context = configurator_context(
            offer, choice, None, violation_messages(exc.violations, _), _, container.clock()
        )
    else:
        context = configurator_context(
            offer, choice, result.configuration, [], _, container.clock()
        )
    return render(request, "configurator.html", **context)
