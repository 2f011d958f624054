"""Opaque global IDs: base64url("Type:pk"). Decoding never raises on bad input."""

from __future__ import annotations

import base64
import binascii
import functools

from db.readmodel import NODES
from resolvers.errors import InvalidInput

# Every kind of node (the registry: db/readmodel.NODES).
NODE_TYPES = frozenset(NODES)


@functools.lru_cache(maxsize=16384)  # a page builds the same few IDs over and over
def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(value: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our IDs."""
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii():
        return None
    try:
        # Strict: a character outside the URL-safe alphabet makes it no ID (the lenient decoder
        # would drop it, and an ID with junk around it would still name the object).
        padded = value + "=" * (-len(value) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)


def expect(value: str, field: str, *type_names: str) -> tuple[str, int]:
    """Decode an input ID that must be of one of `type_names`, else INVALID_INPUT naming the field."""
    decoded = decode(value)
    if decoded is None or decoded[0] not in type_names:
        kinds = " or ".join(type_names)
        raise InvalidInput(f"{field} is not a valid {kinds} ID", field)
    return decoded
