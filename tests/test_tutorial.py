"""docs/tutorial.md, run as written: every request it shows, with the key it names, against a
fresh demo; every answer compared with the one it documents (`"<...>"` stands for a value that
differs each time). BUDGETLINE_UPDATE_TUTORIAL=1 writes the real answers into the page, keeping
the placeholders, for a human to review in the diff."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetline import demo
from budgetline.settings import Settings
from tests.conftest import ROOT

TUTORIAL = ROOT / "docs" / "tutorial.md"
STEP = re.compile(r"<!-- run as: ([a-z-]+) -->\n```graphql\n(.*?)```\n(.*?)```json\n(.*?)```\n", re.S)
PLACEHOLDER = re.compile(r"^<[^<>]+>$")


@dataclass
class Step:
    key: str
    query: str
    expected: Any
    line: int
    span: tuple[int, int]  # of the expected JSON, in the page's text


def steps(text: str) -> list[Step]:
    return [
        Step(m[1], m[2], json.loads(m[4]), text.count("\n", 0, m.start()) + 1, m.span(4)) for m in STEP.finditer(text)
    ]


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and PLACEHOLDER.match(expected):
        return actual is not None
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def keep_placeholders(expected: Any, actual: Any) -> Any:
    """The real answer, with the documented placeholders where the page has them."""
    if isinstance(expected, str) and PLACEHOLDER.match(expected):
        return expected
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: keep_placeholders(expected.get(k), v) for k, v in actual.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [keep_placeholders(e, a) for e, a in zip(expected, actual, strict=True)]
    return actual


def demo_keys(loaded: demo.Demo) -> dict[str, str]:
    names = {"ACCOUNT_TEAM": "team", "CAMPAIGN_MANAGER": "manager", "VIEWER": "viewer", "DELIVERY": "delivery"}
    keys = {}
    for key in loaded.keys:
        prefix = "" if key["role"] in ("ACCOUNT_TEAM", "DELIVERY") else key["account"].split()[0].lower() + "-"
        keys[prefix + names[key["role"]]] = key["secret"]
    return keys


async def test_the_tutorial_runs_as_written(database_url: str, tmp_path: Path, make_client: Any) -> None:
    loaded = await demo.load(database_url, Settings(database_url=database_url, data_dir=tmp_path))
    keys = demo_keys(loaded)
    client = await make_client()
    text = TUTORIAL.read_text()
    found = steps(text)
    assert len(found) >= 30 and text.count("<!-- run as:") == len(found)
    updated, offset, differences = text, 0, []
    for step in found:
        response = await client.post(
            "/graphql", json={"query": step.query}, headers={"Authorization": f"Bearer {keys[step.key]}"}
        )
        actual = response.json()
        if not matches(step.expected, actual):
            differences.append(f"docs/tutorial.md line {step.line}: documented {step.expected}, got {actual}")
            block = json.dumps(keep_placeholders(step.expected, actual), indent=2, ensure_ascii=False) + "\n"
            start, end = step.span[0] + offset, step.span[1] + offset
            updated = updated[:start] + block + updated[end:]
            offset += len(block) - (end - start)
    if os.environ.get("BUDGETLINE_UPDATE_TUTORIAL") and differences:
        TUTORIAL.write_text(updated)
    assert not differences, "\n".join(differences)


def test_the_tutorial_s_dates_lie_within_the_demo_s_terms() -> None:
    """No date of the page expires: every one is inside the demo's current term."""
    for found in re.findall(r"\b(20\d\d-\d\d-\d\d)\b", TUTORIAL.read_text()):
        assert demo.TERM[0].isoformat() <= found <= demo.TERM[1].isoformat(), found
