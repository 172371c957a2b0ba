"""What the launch rules need from storage: limited-edition units, queue numbers, on-sale times.

Every method works in the caller's unit of work and never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from marque.domain.launch import EditionStock, TallyMismatch
from marque.domain.order_entities import Order


class LaunchRepository(Protocol):
    def claim_unit(
        self,
        model_code: str,
        trim_code: str,
        order_id: str,
        *,
        held_until: datetime | None,
        now: datetime,
    ) -> int | None:
        """Give the order a free unit of the edition until ``held_until`` (None: sold, for a
        paid order; a hold whose time has passed counts as free); the unit's number, or
        None when none is left."""
        ...

    def confirm_unit(self, order_id: str) -> int | None:
        """Make the order's unit sold; its number, or None when the order holds no unit."""
        ...

    def release_unit(self, order_id: str) -> int | None:
        """Give the order's unit back; its number, or None when it held none."""
        ...

    def unit_of(self, order_id: str) -> int | None: ...

    def stock(self, model_code: str, trim_code: str, now: datetime) -> EditionStock | None:
        """Cap, sold and held units of a limited edition; None when it is not one."""
        ...

    def ensure_units(self, model_code: str, trim_code: str) -> None:
        """Create the edition's units up to its cap (otherwise done by the first claim)."""
        ...

    def next_queue_number(self, configuration_code: str) -> int:
        """The next number at the end of the configuration's queue; unique, never reused."""
        ...

    def ahead(self, order: Order) -> int:
        """Open paid orders of the order's configuration that are built before it."""
        ...

    def ahead_from_the_back(self, order: Order) -> int:
        """``ahead`` of a locked order, counting back from the end of the queue: the same
        number, cheap for an order locked a moment ago (few behind it)."""
        ...

    def tally_mismatches(self) -> list[TallyMismatch]:
        """Queue tallies that disagree with a count of the orders (none, unless the trigger
        that keeps them was bypassed)."""
        ...

    def recount_tallies(self) -> list[TallyMismatch]:
        """Rewrite every queue tally from a count of the orders; what was wrong before."""
        ...

    def waiting(self, configuration_code: str) -> int:
        """Open paid orders of a configuration (all ahead of a newcomer)."""
        ...

    def set_on_sale(self, model_code: str, trim_code: str | None, at: datetime | None) -> bool:
        """Set when the model with all its trims, or one trim, goes on sale; False when the
        model or trim does not exist."""
        ...
