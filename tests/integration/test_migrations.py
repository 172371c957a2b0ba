"""The Alembic chain builds exactly the tables in code and takes them down again, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from conftest import Database
from sqlalchemy import Engine, create_engine, inspect, text

from marque.adapters.db import migrate as migrations
from marque.adapters.db.tables import metadata


@pytest.fixture
def engine(empty_database: Database) -> Iterator[Engine]:
    built = create_engine(empty_database.url)
    yield built
    built.dispose()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def enum_types(engine: Engine) -> set[str]:
    """PostgreSQL enum types left in the database (a downgrade must drop what it created)."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'"))
        return {str(row[0]) for row in rows}


def test_upgrade_builds_every_table_in_code_and_nothing_else(engine: Engine) -> None:
    migrations.upgrade(engine)

    assert migrations.current_revision(engine) is not None
    assert table_names(engine) == set(metadata.tables) | {"alembic_version"}
    assert migrations.pending_model_changes(engine) == []


def test_downgrade_to_base_leaves_only_the_version_table_and_upgrade_works_again(
    engine: Engine,
) -> None:
    migrations.upgrade(engine)
    head = migrations.current_revision(engine)

    migrations.downgrade(engine, "base")

    assert migrations.current_revision(engine) is None
    assert table_names(engine) == {"alembic_version"}
    assert enum_types(engine) == set()

    migrations.upgrade(engine)

    assert migrations.current_revision(engine) == head
    assert migrations.pending_model_changes(engine) == []


def test_each_revision_downgrades_one_step_and_upgrades_back(engine: Engine) -> None:
    """Walking down one revision at a time catches a downgrade that only works from head."""
    migrations.upgrade(engine)
    script = ScriptDirectory.from_config(migrations.alembic_config(engine))
    revisions = [rev.revision for rev in script.walk_revisions()]  # newest first

    for revision in revisions:
        assert migrations.current_revision(engine) == revision
        migrations.downgrade(engine, "-1")

    assert table_names(engine) == {"alembic_version"}
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == revisions[0]
