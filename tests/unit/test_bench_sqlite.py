"""The launch benchmark on SQLite (bench/sqlite.py, bench/ceiling.py): the database file it
serves marque from, its own engine beside the server, and the commit ceiling it measures
with marque's PRAGMAs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bench.ceiling import SQLITE_FILE, measure_sqlite
from bench.sqlite import (
    bench_engine,
    drop_sqlite,
    fresh_sqlite,
    is_sqlite,
    marque_sqlite_engine,
    settings,
    sqlite_file,
    sqlite_url,
    synchronous_name,
)
from marque.config import Settings


def test_the_url_names_the_file_marque_serves_from(tmp_path: Path) -> None:
    path = tmp_path / "marque.db"
    url = sqlite_url(path)

    assert url == f"sqlite:///{path}"  # the form of marque's default, sqlite:///./var/marque.db
    assert Settings(database_url=url).sqlite_path() == path
    assert sqlite_file(url) == path
    assert is_sqlite(url)
    assert not is_sqlite("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def test_a_memory_database_names_no_file() -> None:
    with pytest.raises(ValueError, match="names no SQLite file"):
        sqlite_file("sqlite:///:memory:")


def test_a_fresh_database_gets_an_empty_folder_of_its_own_and_drop_deletes_it() -> None:
    url = fresh_sqlite()
    folder = sqlite_file(url).parent
    try:
        assert folder.is_dir()
        assert list(folder.iterdir()) == []
        (folder / "marque.db-wal").write_bytes(b"")
    finally:
        drop_sqlite(url)

    assert not folder.exists()


def test_drop_refuses_a_database_it_did_not_make(tmp_path: Path) -> None:
    path = tmp_path / "marque.db"
    path.write_bytes(b"")

    with pytest.raises(ValueError, match="not made by fresh_sqlite"):
        drop_sqlite(sqlite_url(path))
    assert path.exists()


def test_synchronous_numbers_are_named_as_they_are_set() -> None:
    assert [synchronous_name(n) for n in (0, 1, 2, 3)] == ["OFF", "NORMAL", "FULL", "EXTRA"]
    assert synchronous_name(7) == "7"


def test_the_bench_reads_while_the_server_holds_the_write_lock(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "marque.db")
    server = marque_sqlite_engine(url)
    bench = bench_engine(url)
    try:
        with server.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER NOT NULL)"))
            conn.execute(text("INSERT INTO t (n) VALUES (1)"))
        with server.begin() as writing:  # marque's BEGIN IMMEDIATE: the write lock, held
            writing.execute(text("INSERT INTO t (n) VALUES (2)"))
            with bench.connect() as reading:
                assert reading.execute(text("SELECT sum(n) FROM t")).scalar_one() == 1
        with bench.connect() as reading:
            assert reading.execute(text("SELECT sum(n) FROM t")).scalar_one() == 3
        assert settings(bench)["journal_mode"] == "wal"
    finally:
        bench.dispose()
        server.dispose()


def test_the_ceiling_commits_into_a_scratch_file_with_marques_pragmas(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "marque.db")
    marques = marque_sqlite_engine(sqlite_url(tmp_path / "probe.db"))
    try:
        expected = settings(marques)
    finally:
        marques.dispose()

    ceiling = measure_sqlite(url, clients=(1, 2), seconds=0.2)

    assert (ceiling["journal_mode"], ceiling["synchronous"]) == (
        expected["journal_mode"],
        expected["synchronous"],
    )
    assert set(ceiling["commits_per_second_by_clients"]) == {1, 2}
    assert ceiling["commits_per_second"] == max(ceiling["commits_per_second_by_clients"].values())
    assert ceiling["commits_per_second"] > 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(SQLITE_FILE)]
    assert leftovers == []
