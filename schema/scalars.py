"""Decimal: money as a JSON string with exactly two fraction digits, never a float. Date: an
ISO 8601 calendar date, `YYYY-MM-DD` only. Both accept ASCII digits only (Python's `\\d`,
`Decimal()` and `date.fromisoformat` also take Arabic-Indic or full-width digits, "20261201" or "2026-W49-1")."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

CENT = Decimal("0.01")
MAX_INTEGER_DIGITS = 12
_AMOUNT = re.compile(r"^-?([0-9]+)(?:\.([0-9]{1,2}))?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(
            'an amount is a string such as "12500.00" or an integer; floats are refused to keep cents exact'
        )
    text = str(value).strip() if isinstance(value, str) else str(value)
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(f'{text[:40]} is not an amount: use digits with at most two fraction digits, e.g. "12500.00"')
    if len(match.group(1).lstrip("0")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an amount has at most {MAX_INTEGER_DIGITS} integer digits")
    return Decimal(text).quantize(CENT)


def parse_money_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    if isinstance(node, (IntValueNode, StringValueNode)):
        return parse_money(node.value if isinstance(node, StringValueNode) else int(node.value))
    if isinstance(node, FloatValueNode):
        return parse_money(float(node.value))
    raise ValueError('an amount is a string such as "12500.00" or an integer')


def serialize_money(value: Decimal) -> str:
    return f"{Decimal(value).quantize(CENT):f}"


DECIMAL = strawberry.scalar(
    name="Decimal",
    description='Money: a string with exactly two fraction digits ("12500.00"); input a string or an integer.',
    serialize=serialize_money,
    parse_value=parse_money,
    parse_literal=parse_money_literal,
)


def parse_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f'{str(value)[:40]} is not a date: use YYYY-MM-DD, e.g. "2026-12-31"')
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a date of the calendar") from None


def parse_date_literal(node: ValueNode, _variables: Any = None) -> date:
    if isinstance(node, StringValueNode):
        return parse_date(node.value)
    raise ValueError('a date is a string such as "2026-12-31"')


DATE = strawberry.scalar(
    name="Date",
    description='A calendar date, "YYYY-MM-DD" (ISO 8601), e.g. "2026-12-31".',
    serialize=date.isoformat,
    parse_value=parse_date,
    parse_literal=parse_date_literal,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {Decimal: DECIMAL, date: DATE}
