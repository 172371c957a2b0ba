"""A throwaway PostgreSQL cluster for one run (``--private-postgres``).

The shared server on 5432 serves CI and everyone's tests, so it cannot be restarted to
preload ``pg_stat_statements``. This starts a cluster of our own instead: ``initdb`` into a
temporary folder, on a free port, listening on 127.0.0.1 with trust auth, with
``pg_stat_statements`` preloaded, ``synchronous_commit`` and ``fsync`` on, and the shared
server's memory, WAL, checkpoint and connection settings (read there with ``SHOW``) so that
its numbers compare with runs on the shared server. ``stop`` shuts it down and deletes it.

initdb and the postmaster refuse to run as root: as root, both run as the ``postgres`` OS
user (``runuser``), in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.server import free_port

# Taken over from the shared server as they are: durability, WAL, checkpoints, memory,
# connections, autovacuum (off or on changes the background load).
CARRIED = (
    "wal_level",
    "wal_sync_method",
    "wal_buffers",
    "wal_writer_delay",
    "wal_writer_flush_after",
    "wal_compression",
    "full_page_writes",
    "commit_delay",
    "commit_siblings",
    "max_wal_size",
    "min_wal_size",
    "max_wal_senders",
    "checkpoint_timeout",
    "checkpoint_completion_target",
    "shared_buffers",
    "work_mem",
    "max_connections",
    "autovacuum",
)
# Set whatever the shared server says: what the run needs, and durable commits.
FORCED = {
    "shared_preload_libraries": "pg_stat_statements",
    "synchronous_commit": "on",
    "fsync": "on",
    "listen_addresses": "127.0.0.1",
}
LOCALE = ("server_encoding", "lc_collate", "lc_ctype", "server_version_num")
OS_USER = "postgres"


def read_settings(url: str, names: tuple[str, ...]) -> dict[str, str]:
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return {name: str(conn.execute(text(f"SHOW {name}")).scalar_one()) for name in names}
    finally:
        engine.dispose()


def binaries(major: str) -> Path:
    """The folder of initdb and pg_ctl: the shared server's version if installed, else the
    newest Debian has, else whatever is on PATH."""
    wanted = Path(f"/usr/lib/postgresql/{major}/bin")
    if (wanted / "initdb").is_file():
        return wanted
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise SystemExit("--private-postgres needs initdb and pg_ctl (Debian: postgresql-NN)")


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def conf_line(name: str, value: str) -> str:
    """One postgresql.conf line; every value quoted (units and words alike)."""
    return f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n"


@dataclass
class PrivateCluster:
    """Made by :func:`start`; ``url`` is a libpq URL of its ``postgres`` database."""

    folder: Path
    bin_dir: Path
    port: int
    shared: dict[str, str]
    as_user: list[str] = field(default_factory=list)
    running: bool = False

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def settings(self) -> dict[str, str]:
        carried = {name: self.shared[name] for name in CARRIED if name in self.shared}
        return {**carried, **FORCED, "port": str(self.port)}

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.as_user, *command],
            cwd=self.folder,  # the postgres user may not be allowed into ours
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,  # Ctrl-C in the terminal must not stop it before we do
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"{self.log_tail()}"
            )
        return done

    def log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\npostgres.log:\n" + "\n".join(tail) if tail else ""

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",  # the cluster lives for one run; its commits are durable all the same
            f"--encoding={self.shared.get('server_encoding', 'UTF8')}",
            f"--lc-collate={self.shared.get('lc_collate', 'C.UTF-8')}",
            f"--lc-ctype={self.shared.get('lc_ctype', 'C.UTF-8')}",
        )
        lines = ["\n# marque bench --private-postgres\n"]
        lines += [conf_line(name, value) for name, value in self.settings().items()]
        lines.append(conf_line("unix_socket_directories", str(self.folder)))
        lines.append(conf_line("cluster_name", f"marque-bench-{self.port}"))
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(lines)

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def describe(self) -> dict[str, Any]:
        """For the results: what was carried over from the shared server and what was set."""
        return {
            "port": self.port,
            "binaries": str(self.bin_dir),
            "shared_server": self.shared,
            "carried": {name: self.shared[name] for name in CARRIED if name in self.shared},
            "forced": dict(FORCED),
            "running_with": read_settings(self.url, (*CARRIED, *FORCED, "server_version")),
        }

    def stop(self, keep_log: Path | None = None) -> None:
        """Shut it down (fast, then immediate) and delete the folder; keep the log first."""
        try:
            if self.running:
                pg_ctl = str(self.bin_dir / "pg_ctl")
                done = self._run(
                    pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop", check=False
                )
                if done.returncode != 0 and self.postmaster_pid() is not None:
                    self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "stop", check=False)
                self.running = False
            if keep_log is not None and self.log_path.exists():
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.log_path, keep_log)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start(shared_url: str) -> PrivateCluster:
    """Read the shared server's settings, then initdb and start a cluster that has them."""
    shared = read_settings(shared_url, (*CARRIED, *LOCALE, "server_version"))
    major = str(int(shared["server_version_num"]) // 10000)
    folder = Path(tempfile.mkdtemp(prefix="marque-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam(OS_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", OS_USER, "--"]
    cluster = PrivateCluster(
        folder=folder, bin_dir=binaries(major), port=free_port(), shared=shared, as_user=as_user
    )
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
