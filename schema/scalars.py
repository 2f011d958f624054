"""Decimal: money as a JSON string with exactly two fraction digits. Never a float."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

CENT = Decimal("0.01")
MAX_INTEGER_DIGITS = 12
_AMOUNT = re.compile(r"^-?(\d+)(?:\.(\d{1,2}))?$")


def parse_money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(
            'an amount is a string such as "12500.00" or an integer; floats are refused to keep cents exact'
        )
    text = str(value).strip() if isinstance(value, str) else str(value)
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(
            f'{text[:40]!r} is not an amount: use digits with at most two fraction digits, e.g. "12500.00"'
        )
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

SCALAR_MAP: dict[object, ScalarDefinition] = {Decimal: DECIMAL}
