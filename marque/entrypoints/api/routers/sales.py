"""Sales opening for staff: when each model and trim can be reserved, and how limited
editions stand. Staff with the sales role (or admins) only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from marque.domain.identity import Actor, Role
from marque.entrypoints.api.deps import ContainerDep, require_staff
from marque.entrypoints.api.routers.auth import problem
from marque.entrypoints.api.routers.launch_schemas import SalesOpeningIn, SalesStatusOut
from marque.services import sales

router = APIRouter(tags=["sales"])
SalesStaffDep = Annotated[Actor, Depends(require_staff(Role.SALES))]

STAFF_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem("Not signed in"),
    403: problem("Not sales staff"),
    404: problem("`catalog.unknown_model` or `sales.unknown_trim`"),
}


@router.get(
    "/sales/models/{model_code}",
    response_model=SalesStatusOut,
    summary="When each trim of a model can be reserved, and its limited-edition units",
    responses=STAFF_PROBLEMS,
)
def sales_status(model_code: str, container: ContainerDep, actor: SalesStaffDep) -> SalesStatusOut:
    return SalesStatusOut.of(sales.sales_status(container, actor, model_code))


@router.put(
    "/sales/models/{model_code}/opening",
    response_model=SalesStatusOut,
    summary="Set when a model (with all its trims) or one trim goes on sale",
    description=(
        "Before that time, reserving answers 409 `sales.not_open` with the time in "
        "`params.opens_at`; pages show a countdown. Other server processes see the change "
        "within `MARQUE_CATALOG_CACHE_SECONDS`. Setting the same time again changes nothing."
    ),
    responses={**STAFF_PROBLEMS, 422: problem("`request.invalid`: e.g. a time without a zone")},
)
def open_sales(
    model_code: str, body: SalesOpeningIn, container: ContainerDep, actor: SalesStaffDep
) -> SalesStatusOut:
    at = None if body.at == "now" else body.at
    status = sales.open_sales(container, actor, model_code, trim_code=body.trim, at=at)
    return SalesStatusOut.of(status)
