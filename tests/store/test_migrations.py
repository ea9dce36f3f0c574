"""Migrations are reviewed code: they must produce exactly the schema the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from civicgrid.store.db import Base, make_engine
from civicgrid.store.migrate import MIGRATIONS, upgrade
from civicgrid.store.partitions import include_object


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        opts = {"compare_type": True}
        if engine.dialect.name == "postgresql":
            opts["include_object"] = include_object
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_upgrade_an_empty_database_and_go_down_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from civicgrid.store.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    assert {"cases", "case_events", "grids", "regions", "sign_in_attempts"} <= set(
        inspect(engine).get_table_names()
    )
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def test_migration_files_are_date_prefixed() -> None:
    names = sorted(path.name for path in (MIGRATIONS / "versions").glob("*.py"))
    assert names and all(name[:4].isdigit() and name[4] == "_" for name in names)


def test_published_evaluations_go_down_and_up_again(empty_engine: Engine) -> None:
    """0015 drops its table (and on PostgreSQL the trigger function) and comes back."""
    from alembic import command

    from civicgrid.store.migrate import alembic_config

    upgrade(empty_engine)
    config = alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    assert "published_evaluations" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine)
    assert "published_evaluations" in inspect(empty_engine).get_table_names()
