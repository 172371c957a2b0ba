"""The event loop first: a server process's other threads yield the CPU to it.

A server process answers every request's I/O, and every shed request, on its event loop,
while the routes' work runs in threads beside it. When the machine's cores are all busy
(a launch's overload), the kernel shares them among all those threads alike, so a shed
answer waits for CPU behind the very work it protects. Threads started after
``lower_new_threads`` run ``steps`` nice levels below the thread that called it (Linux
nice is per thread), so a woken event loop is scheduled first; their work still gets the
CPU the loop leaves. Lowering needs no privilege; raising back would, so it is one-way.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import FrameType
from typing import Any


def supported() -> bool:
    return sys.platform == "linux" and hasattr(os, "setpriority")


def lower_new_threads(steps: int) -> bool:
    """From now on, every thread started through ``threading`` lowers its own priority by
    ``steps`` as it starts. False when there is nothing to do (0, or not Linux)."""
    if steps <= 0 or not supported():
        return False

    def on_start(_frame: FrameType, _event: str, _arg: Any) -> None:
        sys.setprofile(None)  # once, at the thread's first call: no cost after
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):  # a sandbox may forbid it: stay as we are
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, current + steps))

    threading.setprofile(on_start)
    return True


__all__ = ["lower_new_threads", "supported"]
