"""Alembic helpers: upgrade, downgrade and "is the database at head?"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Synchronous; env.py runs its own event loop, so call `aupgrade` from async code."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


async def aupgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return None
        value = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return str(value) if value is not None else None


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script inside the current migration's transaction.

    asyncpg prepares every statement it is given through SQLAlchemy, and a prepared
    statement holds one command only; its simple-query path takes a whole script.
    """
    from alembic import op
    from sqlalchemy.util import await_only

    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    await_only(raw.execute(sql))
