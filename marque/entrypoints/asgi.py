"""ASGI entry for uvicorn workers: ``uvicorn --factory marque.entrypoints.asgi:create``."""

from __future__ import annotations

from fastapi import FastAPI

from marque.bootstrap import bootstrap
from marque.config import Settings
from marque.entrypoints.api.app import create_app
from marque.entrypoints.api.observability import configure_logging


def create() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(bootstrap(settings))
