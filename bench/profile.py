"""Sampling the server while it works: ``py-spy record`` over every server process, and a
short summary of where the CPU went (by package and by function).

py-spy (in the ``bench`` extra) attaches with ptrace, so it needs root or
``kernel.yama.ptrace_scope=0``; without it the run goes on unprofiled.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")
PACKAGES = (
    "marque",
    "sqlalchemy",
    "psycopg",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "anyio",
    "httpx",
    "logging",
    "json",
    "asyncio",
    "threading",
    "argon2",
)


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else None


def start(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes] | None:
    binary = py_spy()
    if binary is None:
        print("  py-spy not found: install the bench extra to profile")
        return None
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            # Only threads holding the GIL: the CPU spent in Python, not the waits on the
            # database or the thread pool's idle workers, which would otherwise dominate.
            "--gil",
            "--rate",
            "97",
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _package(path: str) -> str:
    parts = Path(path).parts
    for part in reversed(parts):
        name = part.removesuffix(".py")
        if name in PACKAGES:
            return name
    if "site-packages" in parts:
        index = parts.index("site-packages")
        if index + 1 < len(parts):
            return parts[index + 1].removesuffix(".py")
    return Path(path).stem


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares by function, inclusive shares by package."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = []
        for frame in stack.split(";"):
            match = FRAME.match(frame.strip())
            if match:
                names.append((match["function"], match["file"]))
        if not names:
            continue
        function, path = names[-1]
        own[f"{function} ({_package(path)})"] += count
        for name in {f"{f} ({_package(p)})" for f, p in names}:
            inclusive[name] += count
        for package in {_package(p) for _, p in names}:
            packages[package] += count

    def shares(counter: Counter[str], limit: int) -> dict[str, float]:
        return {k: round(100 * v / max(1, total), 1) for k, v in counter.most_common(limit)}

    return {
        "samples": total,
        "self_percent": shares(own, top),
        "inclusive_percent": shares(inclusive, top * 2),
        "package_inclusive_percent": shares(packages, len(PACKAGES) + 5),
    }
