"""The server under test: a fresh PostgreSQL database (or SQLite file, see bench/sqlite.py),
``marque migrate``, ``seed-demo`` and ``marque serve --workers N`` as subprocesses; finding
and killing one worker process."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, make_url, text

from bench.sqlite import drop_sqlite, is_sqlite

ROOT = Path(__file__).resolve().parent.parent


def fresh_database(base_url: str, prefix: str = "marque_bench") -> str:
    """Create an empty database on the server of ``base_url``; return its URL."""
    url = make_url(base_url)
    name = f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if is_sqlite(url):
        drop_sqlite(url)
        return
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def marque_env(database_url: str, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MARQUE_DATABASE_URL": database_url,
            "MARQUE_LOG_JSON": "true",
            "MARQUE_SANDBOX": "true",
            "MARQUE_DEFAULT_LOCALE": "en",
        }
    )
    env.update(overrides)
    return env


@dataclass
class Source:
    """Where the server's code comes from: the working tree, or a snapshot of a commit."""

    tree: Path = ROOT
    commit: str | None = None


SOURCE = Source()


def use_snapshot(ref: str) -> Path:
    """Serve a committed revision instead of the working tree (which others may be editing):
    ``git archive REF`` unpacked once into a temporary folder, run with ``python -m``."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = Path(tempfile.gettempdir()) / f"marque-bench-{sha[:12]}"
    if not (target / "marque" / "__init__.py").is_file():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", sha], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    SOURCE.tree, SOURCE.commit = target, sha
    return target


def run_marque(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marque.entrypoints.cli", *args],
        env=env,
        cwd=SOURCE.tree,
        capture_output=True,
        text=True,
        check=False,
    )


def prepare_database(database_url: str) -> None:
    env = marque_env(database_url)
    for command in (("migrate",), ("seed-demo",)):
        done = run_marque(*command, env=env)
        if done.returncode != 0:
            raise SystemExit(f"marque {' '.join(command)} failed:\n{done.stderr}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Server:
    """``marque serve`` in a subprocess; ``restart`` starts it again on the same port."""

    database_url: str
    workers: int
    log_path: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        settings = {
            "MARQUE_HOST": "127.0.0.1",
            "MARQUE_PORT": str(self.port),
            "MARQUE_SANDBOX_WEBHOOK_DELAY_SECONDS": "0",
        }
        settings.update(self.env_overrides)
        env = marque_env(self.database_url, **settings)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marque.entrypoints.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=env,
            cwd=SOURCE.tree,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        self.wait_ready()

    def wait_ready(self, seconds: float = 90) -> None:
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited early; see {self.log_path}")
            try:
                ready = httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.2)
        raise SystemExit(f"the server did not become ready; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def processes(self) -> list[psutil.Process]:
        """The server's main process and every descendant (workers, their helpers)."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            main = psutil.Process(self.process.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's spawned workers, or the one process."""
        if self.process is None:
            return []
        if self.workers == 1:
            return [self.process.pid] if self.process.poll() is None else []
        pids = []
        for proc in self.processes()[1:]:
            try:
                if any("spawn_main" in part for part in proc.cmdline()):
                    pids.append(proc.pid)
            except psutil.Error:
                continue
        return pids

    def kill_one_worker(self) -> int:
        """SIGKILL one serving process. uvicorn's supervisor starts a new worker by itself;
        a single-process server is started again here on the same port."""
        victims = self.worker_pids()
        if not victims:
            raise RuntimeError("no worker process to kill")
        victim = victims[0]
        os.kill(victim, signal.SIGKILL)
        if self.workers == 1:
            assert self.process is not None
            self.process.wait()
            self.start()
        return victim
