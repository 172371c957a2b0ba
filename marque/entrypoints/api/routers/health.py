"""Liveness, readiness and metrics for the people who run marque."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from marque.domain.errors import N_, Unavailable
from marque.entrypoints.api.deps import ContainerDep

router = APIRouter(tags=["ops"])


@router.get("/healthz", operation_id="ops-healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="ops-readyz",
    summary="The database is reachable",
    responses={503: {"description": "Database unreachable (problem+json)"}},
)
def readyz(container: ContainerDep) -> dict[str, str]:
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.commit()  # not a rollback: keeps the driver's prepared statements (UoW)
    except Exception as exc:  # any driver error means "not ready"
        raise Unavailable(
            N_("The database cannot be reached. Please try again in {retry_after} seconds."),
            retry_after=5,
            code="ops.database_unreachable",
        ) from exc
    return {"status": "ready", "database": container.engine.dialect.name}


@router.get(
    "/metrics", operation_id="ops-metrics", summary="Prometheus metrics", response_class=Response
)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
