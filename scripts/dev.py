#!/usr/bin/env python3
"""Set up and drive marque on a machine that has nothing but Python 3.11+.

    python3 scripts/dev.py run [serve options]   install into .venv, migrate, seed, serve
    python3 scripts/dev.py test [pytest args]    install with the test extra, run every test
    python3 scripts/dev.py check                 ruff, mypy --strict, import-linter contracts

The virtual environment lives in ``.venv`` next to pyproject.toml (``MARQUE_VENV`` moves
it). A stamp file inside it records a hash of pyproject.toml and the extras installed, so
the project is re-installed only when pyproject.toml changes or a new extra is needed.
Standard library only: this script runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
STAMP_NAME = ".marque-install.json"
USAGE = __doc__ or ""


def venv_dir() -> Path:
    return Path(os.environ.get("MARQUE_VENV") or ROOT / ".venv").resolve()


def venv_bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return venv_dir() / folder / f"{name}{suffix}"


def wanted_stamp(extras: set[str]) -> dict[str, object]:
    return {
        "pyproject_sha256": hashlib.sha256(PYPROJECT.read_bytes()).hexdigest(),
        "extras": sorted(extras),
    }


def read_stamp() -> dict[str, object] | None:
    try:
        loaded = json.loads((venv_dir() / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def stamp_covers(stamp: dict[str, object] | None, extras: set[str]) -> bool:
    """True when the installed environment already holds this pyproject and these extras."""
    if stamp is None:
        return False
    want = wanted_stamp(extras)
    installed = stamp.get("extras")
    return (
        stamp.get("pyproject_sha256") == want["pyproject_sha256"]
        and isinstance(installed, list)
        and extras <= set(installed)
    )


def ensure_environment(extras: set[str]) -> None:
    """Create .venv if missing and install the project (editable) when the stamp is stale."""
    python = venv_bin("python")
    if not python.exists():
        print(f"dev: creating a virtual environment in {venv_dir()}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=venv_dir().exists()).create(venv_dir())
    stamp = read_stamp()
    if stamp_covers(stamp, extras):
        return
    previous = stamp.get("extras") if stamp is not None else None
    if isinstance(previous, list):
        # Keep the extras installed before, so that `run` after `test` stays free.
        extras = extras | {str(extra) for extra in previous}
    target = f".[{','.join(sorted(extras))}]" if extras else "."
    print(
        f"dev: installing marque{target[1:]} into {venv_dir()} (first time takes a minute)",
        flush=True,
    )
    started = time.monotonic()
    command = [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-q",
        "-e",
        target,
    ]
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(f"dev: pip install failed (exit {result.returncode}); see the messages above")
    (venv_dir() / STAMP_NAME).write_text(
        json.dumps(wanted_stamp(extras), indent=2), encoding="utf-8"
    )
    print(f"dev: installed in {time.monotonic() - started:.0f}s", flush=True)


def call(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run a command from the repository root; Ctrl-C stops it and ends this script quietly."""
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # The child got the same SIGINT from the terminal; give it time to shut down cleanly.
        try:
            return process.wait(timeout=15)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            process.kill()
            return 130


def run(args: list[str]) -> int:
    """Install, then `marque serve --setup`: migrate ./var/marque.db, seed once, serve."""
    ensure_environment(set())
    env = dict(os.environ)
    env.setdefault("MARQUE_LOG_JSON", "false")  # a person reads this console; production keeps JSON
    env.setdefault("MARQUE_SANDBOX", "true")
    return call([str(venv_bin("marque")), "serve", "--setup", *args], env=env)


def test(args: list[str]) -> int:
    """Install with the test extra, then the whole pytest suite (extra args go to pytest)."""
    ensure_environment({"test"})
    return call([str(venv_bin("python")), "-m", "pytest", *args])


def check(args: list[str]) -> int:
    """The quality gates CI runs: lint, strict types, layer contracts. All run; any failure fails."""
    ensure_environment({"test"})
    gates = [
        ["ruff", "check", ".", *args],
        ["mypy"],
        ["lint-imports"],
    ]
    failed = []
    for gate in gates:
        print(f"dev: {' '.join(gate)}", flush=True)
        if call([str(venv_bin(gate[0])), *gate[1:]]) != 0:
            failed.append(gate[0])
    if failed:
        print(f"dev: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"run": run, "test": test, "check": check}


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 -- this script may be started by an older python3
        sys.exit(f"dev: marque needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not argv or argv[0] not in COMMANDS:
        print(USAGE.strip())
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
