"""A buyer's place in the queue, and what a configuration change would do to it.

The number is given when the deposit is confirmed (services/payments.py) and never changes
while the configuration stays; build order among locked orders follows lock time
(domain/launch.py). ``preview_change`` tells the buyer, BEFORE they confirm a change, what
the change costs and that the order goes to the back of the new configuration's queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marque.domain.catalog import PricedConfiguration
from marque.domain.identity import Actor
from marque.domain.launch import QUEUE_TO_BACK, QUEUE_TO_BACK_UNPAID, QueuePlace, TallyMismatch
from marque.domain.money import Money
from marque.domain.order_entities import Order
from marque.domain.orders import OrderEvent, transition
from marque.services import order_support as support
from marque.services import orders as order_service
from marque.services.context import AppContext
from marque.services.unit_of_work import UnitOfWork


def place(uow: UnitOfWork, order: Order) -> QueuePlace | None:
    """Where a paid order stands; None before payment (no number yet)."""
    return support.queue_place(uow, order)


@dataclass(frozen=True)
class ChangePreview:
    order: Order
    configuration: PricedConfiguration
    #: new price - current price (negative when the change makes the car cheaper)
    difference: Money
    now: QueuePlace | None
    #: Paid orders of the new configuration that would all be ahead after the change.
    waiting_after: int
    #: The warning to show before the buyer confirms (msgid; None when nothing would
    #: change) and its parameters.
    warning: str | None = None
    warning_params: dict[str, object] = field(default_factory=dict)


def preview_change(
    ctx: AppContext, actor: Actor, order_id: str, configuration_code: str
) -> ChangePreview:
    """What changing ``order_id`` to ``configuration_code`` would do, changing nothing.

    Raises what the change itself would: NotFound, the transition table's 409 for a locked
    or ended order, 422 for another model or other terms."""
    now = ctx.clock()
    priced = order_service.price_now(ctx, configuration_code, now)
    configuration = priced.configuration
    with ctx.uow(readonly=True) as uow:
        order = support.owned_order(uow, actor, order_id)
        current = place(uow, order)
        if configuration.code == order.configuration_code:  # nothing would change
            return ChangePreview(order, configuration, order.price - order.price, current, 0)
        order_service.check_change(order, priced)
        transition(order.status, OrderEvent.CHANGE_CONFIGURATION, actor=actor, at=now, reason="")
        waiting = uow.launch.waiting(configuration.code)
    params: dict[str, object] = {
        "order": order.id,
        "configuration": order.configuration_code,
        "new_configuration": configuration.code,
        "ahead": waiting,
    }
    if current is not None:
        params["number"] = current.number
    return ChangePreview(
        order=order,
        configuration=configuration,
        difference=configuration.total_price - order.price,
        now=current,
        waiting_after=waiting,
        warning=QUEUE_TO_BACK if current is not None else QUEUE_TO_BACK_UNPAID,
        warning_params=params,
    )


def tally_mismatches(ctx: AppContext) -> list[TallyMismatch]:
    """Queue tallies that disagree with a count of the locked orders still waiting. A
    trigger keeps them (adapters/db/migrations/versions/2026_11_26_0008_queue_tallies.py),
    so there are none unless something went around it (a bulk load with triggers off)."""
    with ctx.uow(readonly=True) as uow:
        return uow.launch.tally_mismatches()


def recount_tallies(ctx: AppContext) -> list[TallyMismatch]:
    """Rewrite the queue tallies that disagree from a count; what they said before."""
    with ctx.uow() as uow:
        wrong = uow.launch.recount_tallies()
        uow.commit()
    return wrong


__all__ = [
    "ChangePreview",
    "place",
    "preview_change",
    "recount_tallies",
    "tally_mismatches",
]
