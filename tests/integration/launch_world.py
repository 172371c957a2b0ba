"""Launch-night test stage: a limited edition of its own per test (tests/launch_catalogue.py)
on the shared database, and a World whose frozen clock is a random day after its price book
starts, so the live servers of other tests (real time) never offer it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from conftest import Database, test_settings
from launch_catalogue import FAR, Edition, add_edition
from money_world import World

from marque.adapters.clock import FrozenClock
from marque.bootstrap import bootstrap


def far_day() -> datetime:
    """Noon of a random day in the 2080s: after every edition's price book starts."""
    return FAR + timedelta(days=1 + secrets.randbelow(3650), hours=12)


def launch_world(database: Database, **overrides: object) -> World:
    clock = FrozenClock(far_day())
    container = bootstrap(test_settings(database.url, **overrides), clock=clock)
    return World(container, clock)


__all__ = ["FAR", "Edition", "add_edition", "far_day", "launch_world"]
