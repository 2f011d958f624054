"""The ORM models (db/models.py) against the schema the migrations build, compared by Alembic's
own autogenerate: every mapped table has the same columns, types and nullability, so a column
added on one side only fails here. Indexes, constraints and triggers live in the migrations
alone (the models declare what the ORM needs to read and write), and tables no model maps (the
idempotency store, written in SQL by db/idempotency.py) are left out."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from db.models import Base
from db.session import async_url

COLUMN_OPS = {"add_table", "remove_table", "add_column", "remove_column", "modify_type", "modify_nullable"}


def column_differences(diff: list[Any]) -> list[Any]:
    """Alembic's diff, flattened (column changes come grouped in lists), column-level only."""
    flat = [op for entry in diff for op in (entry if isinstance(entry, list) else [entry])]
    unmapped = [op for op in flat if op[0] == "remove_table" and op[1].name not in Base.metadata.tables]
    return [op for op in flat if op[0] in COLUMN_OPS and op not in unmapped]


async def test_the_models_match_the_migrated_database(database_url: str) -> None:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            diff: list[Any] = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert column_differences(diff) == [], "\n".join(map(str, column_differences(diff)))
    assert any(op[0] == "remove_index" for op in diff)  # the comparison did run against the tables
