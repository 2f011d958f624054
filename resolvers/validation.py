"""Input checks shared by every aggregate: each raises InvalidInput naming the field."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from resolvers.errors import InvalidInput

MAX_NAME = 200
MAX_NOTE = 1000
MAX_NUMBER = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Bidirectional controls (embeddings, overrides, isolates, marks): they make a name display as
# something else than it is ("Trojan Source").
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Letters and symbols that draw nothing (Hangul fillers, the braille blank, ...).
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
# Zero-width joiners are format characters that real scripts and emoji need.
_JOINERS = frozenset("\u200c\u200d")


def _invisible_format(char: str) -> bool:
    """A format character that is not a joiner: zero-width spaces, tag characters, BOMs, ..."""
    return unicodedata.category(char) == "Cf" and char not in _JOINERS


_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$")

# Active ISO 4217 currency codes.
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)


def name(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"{field} must be at most {MAX_NAME} characters", field)
    if _CONTROL.search(cleaned):
        raise InvalidInput(f"{field} must not contain control characters", field)
    if _BIDI.search(cleaned):
        raise InvalidInput(f"{field} must not contain bidirectional control characters", field)
    if any(_invisible_format(c) for c in cleaned):
        raise InvalidInput(f"{field} must not contain invisible characters (such as zero-width spaces)", field)
    if not any(unicodedata.category(c)[0] in "LNPS" and c not in _BLANKS for c in cleaned):
        raise InvalidInput(f"{field} must contain a visible character", field)
    return cleaned


def note(value: str, field: str) -> str:
    """A note for people (amendments, change requests): 1 to MAX_NOTE characters after trimming;
    line breaks and tabs allowed, other control and bidirectional characters not."""
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{field} must not be empty: say what and why", field)
    if len(cleaned) > MAX_NOTE:
        raise InvalidInput(f"{field} must be at most {MAX_NOTE} characters", field)
    if _CONTROL.search(cleaned.replace("\n", " ").replace("\t", " ")):
        raise InvalidInput(f"{field} must not contain control characters other than line breaks and tabs", field)
    if _BIDI.search(cleaned):
        raise InvalidInput(f"{field} must not contain bidirectional control characters", field)
    return cleaned


def reference_number(value: str, field: str) -> str:
    """An order or PO number as printed on paper: letters, digits and . _ / - or spaces."""
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(cleaned) > MAX_NUMBER:
        raise InvalidInput(f"{field} must be at most {MAX_NUMBER} characters", field)
    if not _NUMBER.match(cleaned):
        raise InvalidInput(f"{field} may contain only letters, digits, spaces and . _ / -", field)
    return cleaned


def positive_amount(value: Decimal, field: str) -> Decimal:
    if value <= 0:
        raise InvalidInput(f"{field} must be greater than 0", field)
    return value


def non_negative_amount(value: Decimal, field: str) -> Decimal:
    if value < 0:
        raise InvalidInput(f"{field} must be 0 or more", field)
    return value


def currency(value: str, field: str = "currency") -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise InvalidInput(f"{field} must be an ISO 4217 currency code such as USD or EUR", field)
    return code


def term(start: date, end: date, field: str = "endDate") -> None:
    if start > end:
        raise InvalidInput("startDate must be on or before endDate", field)
