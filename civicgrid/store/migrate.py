"""Bring a database to the newest schema with Alembic (``civicgrid init-db`` and first start)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Alembic's configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: newest)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@lru_cache
def head_revision() -> str:
    """The newest schema revision this version of civicgrid migrates to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def known_revisions() -> set[str]:
    """Every schema revision this version of civicgrid can migrate from."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def is_current(connection: Connection) -> bool:
    """Whether the database behind ``connection`` is migrated to the newest revision."""
    return MigrationContext.configure(connection).get_current_heads() == (head_revision(),)
