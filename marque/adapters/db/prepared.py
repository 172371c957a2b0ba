"""Statements built once, compiled once per dialect, run on the driver's own cursor.

On the launch-night path SQLAlchemy's execution machinery cost more Python than the
statements themselves: a ``select(orders)`` built per call and executed through
``Connection.execute`` took about 470 µs of CPU against 120 µs for the same SQL on the
psycopg cursor (docs/decisions.md, "Statements on the driver's cursor"). A ``Prepared``
statement keeps SQLAlchemy Core for what it is good at (writing the SQL for both dialects,
the column types' conversions) and skips the rest:

- the statement is built once, with named ``bindparam``\\ s, at import;
- it is compiled once per dialect, together with the bind and result conversions of its
  column types (``UtcDateTime``, JSON, booleans on SQLite ...);
- each call runs it on the DBAPI connection of the unit of work's ``Connection``, inside
  that connection's transaction, and gives plain dicts keyed by column key.

What SQLAlchemy would still do for us, kept here: listeners of ``before_cursor_execute``
and ``after_cursor_execute`` on the engine are called (the catalogue cache's write watcher,
the statement counters of the tests and the benchmark). What is refused at compile time:
parameters SQLAlchemy renders at execution (``IN`` lists, ``literal_execute``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Connection, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import SelectBase

T = TypeVar("T")
Row = dict[str, Any]
_Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    #: (name in the SQL, caller's key or None for a constant, constant, conversion)
    binds: tuple[tuple[str, str | None, Any, _Convert | None], ...]
    keys: tuple[str, ...]
    #: Result conversions by position; None when no column needs one.
    results: tuple[_Convert | None, ...] | None

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = []
        for _name, key, constant, convert in self.binds:
            value = given[key] if key is not None else constant
            values.append(convert(value) if convert is not None else value)
        if self.positional:
            return tuple(values)
        return {bind[0]: value for bind, value in zip(self.binds, values, strict=True)}

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[Row]:
        keys, results = self.keys, self.results
        if results is None:
            return [dict(zip(keys, row, strict=True)) for row in fetched]
        return [
            {
                key: (convert(value) if convert is not None else value)
                for key, value, convert in zip(keys, row, results, strict=True)
            }
            for row in fetched
        ]


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a Prepared statement cannot have parameters rendered at execution")
    if compiled.positional:
        names = list(compiled.positiontup)
    elif dialect.paramstyle == "pyformat":
        # Only what the SQL names: ``binds`` also holds parameters the statement replaced
        # (a SET column given as an expression such as ``version + 1``).
        names = [name for name in compiled.binds if f"%({name})s" in compiled.string]
    else:  # pragma: no cover - psycopg is pyformat, sqlite3 positional
        names = list(compiled.binds)
    binds = []
    for name in names:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            binds.append((name, bind.key, None, convert))
        else:
            binds.append((name, None, bind.effective_value, convert))
    if isinstance(statement, SelectBase):
        columns = list(statement.selected_columns)
    elif isinstance(statement, UpdateBase):
        table: Any = statement.table
        with_defaults = [
            c.key for c in table.columns if c.default is not None or c.onupdate is not None
        ]
        if with_defaults:  # SQLAlchemy fills them in at execution, which Prepared skips
            raise ValueError(f"{table.name}: columns with Python-side defaults {with_defaults}")
        columns = list(statement.exported_columns)
    else:  # pragma: no cover - only selects and DML are prepared
        raise TypeError(f"cannot prepare {type(statement).__name__}")
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    return _Compiled(
        sql=compiled.string,
        positional=bool(compiled.positional),
        binds=tuple(binds),
        keys=tuple(str(column.key) for column in columns),
        results=results if any(convert is not None for convert in results) else None,
    )


_CURSOR = "marque.prepared.cursor"


def _cursor(conn: Connection) -> Any:
    """The driver connection's cursor for prepared statements, made once and used again.

    Making a psycopg cursor copies the connection's adapters: about a tenth of a
    reservation's Python time went to making and closing one per statement. A checked-out
    connection serves one thread at a time, every call reads all its rows before the next,
    and the pool clears ``info`` with a connection it invalidates."""
    driver = conn.connection.driver_connection
    info = conn.connection.info
    cursor = info.get(_CURSOR)
    if cursor is None or cursor.connection is not driver or getattr(cursor, "closed", False):
        cursor = info[_CURSOR] = driver.cursor()  # type: ignore[union-attr]
    return cursor


def _forget_cursor(conn: Connection, cursor: Any) -> None:
    """After a failed statement, the next one gets a fresh cursor."""
    conn.connection.info.pop(_CURSOR, None)
    with contextlib.suppress(Exception):  # the connection may be gone; the caller raises
        cursor.close()


class Prepared:
    """One statement of a repository, ready to run many times with different parameters.

    Build it at import with ``bindparam("name")`` for each value a call supplies; call
    ``rows``/``first``/``scalar`` for statements that return rows (SELECT, or DML with
    RETURNING) and ``run`` for DML without RETURNING (the row count). Thread-safe: the
    compiled form is computed once per dialect and never changes.
    """

    __slots__ = ("statement", "_by_dialect")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return found

    def _execute(
        self, conn: Connection, compiled: _Compiled, params: Any, fetch: bool
    ) -> tuple[Any, int]:
        """(every row or None, row count). A driver error is handled as SQLAlchemy handles
        its own: wrapped in its exception classes (``IntegrityError`` ...), and a lost
        connection invalidated with the pool's older connections."""
        if not conn.in_transaction():
            conn.begin()  # as Connection.execute would (autobegin): never a statement outside one
        cursor = _cursor(conn)
        dispatch = conn.dispatch
        try:
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(conn, cursor, compiled.sql, params, None, False)
            cursor.execute(compiled.sql, params)
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(conn, cursor, compiled.sql, params, None, False)
            # Every row, always: SQLite finishes an INSERT ... RETURNING only once read out.
            fetched = cursor.fetchall() if fetch else None
            return fetched, int(cursor.rowcount)
        except Exception as exc:
            _forget_cursor(conn, cursor)
            # SQLAlchemy's own handler (the same in 2.0 and 2.1); it raises. Covered by
            # tests/integration/test_prepared_statements.py for both cases above.
            conn._handle_dbapi_exception(exc, compiled.sql, params, cursor, None)
            raise  # pragma: no cover - the handler always raises

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Row]:
        compiled = self._compiled(conn)
        fetched, _count = self._execute(conn, compiled, compiled.parameters(params or {}), True)
        return compiled.rows(fetched)

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Row | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def one_as(
        self, conn: Connection, params: Mapping[str, Any], mapper: Callable[[Row], T]
    ) -> T | None:
        """The first row as a domain value (``mapper``), or None."""
        row = self.first(conn, params)
        return mapper(row) if row is not None else None

    def all_as(
        self, conn: Connection, params: Mapping[str, Any], mapper: Callable[[Row], T]
    ) -> list[T]:
        return [mapper(row) for row in self.rows(conn, params)]

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        row = self.first(conn, params)
        return None if row is None else next(iter(row.values()))

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Execute a statement without RETURNING; the number of rows it touched."""
        compiled = self._compiled(conn)
        _rows, count = self._execute(conn, compiled, compiled.parameters(params or {}), False)
        return count


def bound(*columns: str) -> dict[str, BindParameter[Any]]:
    """``{column: bindparam("b_<column>")}`` for ``.values(...)`` (or ``.values(**...)``).

    The ``b_`` prefix is needed, not style: in an INSERT's VALUES or an UPDATE's SET,
    SQLAlchemy refuses a bind parameter named like a column of the statement's table.
    """
    return {column: bindparam(f"b_{column}") for column in columns}


__all__ = ["Prepared", "Row", "bound"]
