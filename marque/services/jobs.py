"""The background jobs of the money core, each ``run_once(ctx) -> count``.

``marque worker`` runs them in a loop (or once with ``--once``); each server process may
run them too (``MARQUE_WORKER_IN_SERVER``). Every job is safe to run in several processes
at once: work is claimed with conditional updates, never by being the only runner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from marque.services import cancellations, idempotency, lock_jobs, notifications, refunds
from marque.services.context import AppContext

log = logging.getLogger("marque.jobs")

Job = Callable[[AppContext], int]

#: In the order one round runs them: state changes first, then the messages they queued.
JOBS: Final[tuple[tuple[str, Job], ...]] = (
    ("expire_unpaid", cancellations.expire_unpaid),
    ("lock_reminders", lock_jobs.send_lock_reminders),
    ("auto_lock", lock_jobs.auto_lock),
    ("refunds", refunds.run_once),
    ("notifications", notifications.run_once),
    ("purge_idempotency_keys", idempotency.purge_expired),
)


def run_round(ctx: AppContext) -> dict[str, int]:
    """Run every job once; a failing job is logged and the others still run."""
    done: dict[str, int] = {}
    for name, job in JOBS:
        try:
            done[name] = job(ctx)
        except Exception:
            log.exception("job failed", extra={"ctx_job": name})
            done[name] = -1
    return done


__all__ = ["JOBS", "Job", "run_round"]
