"""A server process's threads other than its event loop's can run at a lower priority."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from marque.entrypoints.thread_priority import lower_new_threads, supported

pytestmark = pytest.mark.skipif(not supported(), reason="per-thread nice is Linux's")


@pytest.fixture
def restore_threading_profile() -> Iterator[None]:
    yield
    threading.setprofile(None)


def nice_of_a_new_thread() -> int:
    seen: list[int] = []

    def work() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return seen[0]


def test_threads_started_afterwards_run_lower_and_the_caller_stays_as_it_was(
    restore_threading_profile: None,
) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert nice_of_a_new_thread() == mine

    assert lower_new_threads(3) is True

    assert nice_of_a_new_thread() == min(19, mine + 3)
    assert nice_of_a_new_thread() == min(19, mine + 3), "each new thread, not cumulatively"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def test_zero_changes_nothing(restore_threading_profile: None) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert lower_new_threads(0) is False
    assert nice_of_a_new_thread() == mine
