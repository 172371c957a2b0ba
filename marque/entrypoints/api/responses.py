"""Answering a plain-``def`` route with a model it has just built.

FastAPI validates a route's return value against its ``response_model`` again and, for a
plain-``def`` route, does so in the thread pool: a second hand-off per request, spent
re-checking a model our own code made. The hot read routes (the buyer's polls) return a
``Response`` instead; the route keeps its ``response_model`` for the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_json(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as JSON, serialised by pydantic, as FastAPI would have sent it."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


__all__ = ["model_json"]
