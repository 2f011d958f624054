"""The layers of docs/architecture.md: budgetline -> schema -> resolvers -> db, schema/ without
SQL, resolvers/ without HTTP, db/ without GraphQL; the planner without the ORM or Strawberry,
the read model's map (db/readmodel.py) without GraphQL or rules. import-linter checks the
contracts in pyproject.toml against every import of the four packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_layers_hold() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "6 kept, 0 broken" in done.stdout
