"""Running the money core's jobs: in a loop for `marque worker`, or in a server's thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from marque.bootstrap import Container
from marque.services.jobs import run_round

log = logging.getLogger("marque.workers.jobs")


class JobPump:
    """A daemon thread running a round of jobs every ``interval`` seconds until stopped."""

    def __init__(self, container: Container, interval: float) -> None:
        self._container = container
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="money-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                run_round(self._container)
            except Exception:  # run_round isolates jobs; this is the database being away
                log.exception("job round failed")


@contextmanager
def running_in_server(container: Container) -> Iterator[None]:
    if not container.settings.worker_in_server:
        yield
        return
    pump = JobPump(container, container.settings.worker_interval_seconds)
    pump.start()
    try:
        yield
    finally:
        pump.stop()


def loop(
    container: Container, *, once: bool, stop: threading.Event | None = None
) -> dict[str, int]:
    """Run rounds until ``stop`` is set (forever from the CLI); the last round's counts."""
    stop = stop or threading.Event()
    while True:
        counts = run_round(container)
        busy = {name: n for name, n in counts.items() if n}
        if busy:
            log.info("job round", extra={f"ctx_{name}": n for name, n in busy.items()})
        if once or stop.wait(container.settings.worker_interval_seconds):
            return counts


__all__ = ["JobPump", "loop", "running_in_server"]
