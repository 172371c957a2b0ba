"""Server-rendered pages: the catalogue, the configurator, sign-in and the staff console.

``install`` adds the page routes (kept out of the OpenAPI document), serves /static and
registers the HTML error renderer that ``problems.render_error`` uses for page addresses.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from marque.entrypoints.web import (
    catalog_pages,
    finance_pages,
    order_action_pages,
    order_pages,
    sandbox_pages,
    signin_pages,
)
from marque.entrypoints.web.error_pages import render_error_page
from marque.entrypoints.web.rendering import STATIC_DIR, build_environment


def install(app: FastAPI) -> None:
    app.state.web_templates = build_environment()
    app.state.html_error_renderer = render_error_page
    app.include_router(catalog_pages.router)
    app.include_router(signin_pages.router)
    app.include_router(sandbox_pages.router)
    app.include_router(order_pages.router)
    app.include_router(order_action_pages.router)
    app.include_router(finance_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
