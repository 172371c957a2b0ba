"""Bodies of the launch-night APIs: a buyer's queue place, the configuration-change preview,
and the staff's sales-opening view."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from marque.domain.launch import EditionStock, QueuePlace
from marque.entrypoints.api.routers.catalog_schemas import MoneyOut
from marque.i18n import Translator
from marque.services.queue import ChangePreview
from marque.services.sales import SalesStatus, TrimSale


class QueueOut(BaseModel):
    number: int = Field(
        description="The order's number in its configuration's queue, given when the deposit "
        "was confirmed; stable until a configuration change sends it to the back"
    )
    ahead: int = Field(
        description="Open paid orders of the same configuration built before this one: "
        "locked orders by lock time, then unlocked ones by number"
    )
    configuration: str = Field(description="The configuration code the queue is for")
    locked: bool = Field(description="Locked orders are built in lock-time order")

    @classmethod
    def of(cls, place: QueuePlace) -> QueueOut:
        return cls(
            number=place.number,
            ahead=place.ahead,
            configuration=place.configuration_code,
            locked=place.locked,
        )


class WarningOut(BaseModel):
    code: str = Field(examples=["order.queue_to_back"])
    message: str = Field(description="In the caller's language")


class ChangePreviewOut(BaseModel):
    order_id: str
    configuration_code: str
    current_price: MoneyOut
    new_price: MoneyOut
    difference: MoneyOut = Field(description="new - current; negative when cheaper")
    queue: QueueOut | None = Field(description="The order's place now (null before payment)")
    waiting_after: int = Field(
        description="Paid orders already waiting in the new configuration's queue: all of "
        "them would be ahead after the change"
    )
    warnings: list[WarningOut] = Field(
        description="Show these before the buyer confirms the change"
    )

    @classmethod
    def of(cls, preview: ChangePreview, _: Translator) -> ChangePreviewOut:
        return cls(
            order_id=preview.order.id,
            configuration_code=preview.configuration.code,
            current_price=MoneyOut.of(preview.order.price),
            new_price=MoneyOut.of(preview.configuration.total_price),
            difference=MoneyOut.of(preview.difference),
            queue=QueueOut.of(preview.now) if preview.now else None,
            waiting_after=preview.waiting_after,
            warnings=[
                WarningOut(
                    code="order.queue_to_back",
                    message=_(preview.warning, **preview.warning_params),
                )
            ]
            if preview.warning
            else [],
        )


class SalesOpeningIn(BaseModel):
    trim: str | None = Field(
        None,
        max_length=32,
        description="One trim only; without it the model and all its trims",
    )
    at: AwareDatetime | Literal["now"] = Field(
        description='ISO 8601 time with a zone (UTC advised), or "now"; a time without a '
        "zone is refused",
        examples=["2026-12-01T14:00:00Z", "now"],
    )


class EditionStockOut(BaseModel):
    cap: int
    sold: int = Field(description="Units whose deposit is paid")
    held: int = Field(description="Units held for reservations waiting for their deposit")
    free: int

    @classmethod
    def of(cls, stock: EditionStock) -> EditionStockOut:
        return cls(cap=stock.cap, sold=stock.sold, held=stock.held, free=stock.free)


class TrimSaleOut(BaseModel):
    code: str
    opens_at: datetime | None = Field(description="When this trim can be reserved")
    on_sale: bool
    limited_edition: bool
    units: EditionStockOut | None = Field(description="Limited editions only")

    @classmethod
    def of(cls, trim: TrimSale) -> TrimSaleOut:
        return cls(
            code=trim.code,
            opens_at=trim.opens_at,
            on_sale=trim.on_sale,
            limited_edition=trim.limited_edition,
            units=EditionStockOut.of(trim.stock) if trim.stock else None,
        )


class SalesStatusOut(BaseModel):
    model: str
    on_sale_at: datetime | None = Field(description="The model's own opening time")
    trims: list[TrimSaleOut]

    @classmethod
    def of(cls, status: SalesStatus) -> SalesStatusOut:
        return cls(
            model=status.model_code,
            on_sale_at=status.opens_at,
            trims=[TrimSaleOut.of(trim) for trim in status.trims],
        )


__all__ = [
    "ChangePreviewOut",
    "EditionStockOut",
    "QueueOut",
    "SalesOpeningIn",
    "SalesStatusOut",
    "TrimSaleOut",
    "WarningOut",
]
