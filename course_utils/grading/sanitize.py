"""Text from submissions made safe for grades.csv, Markdown feedback and a terminal.

A submission controls its error messages, its printed output and (through file names) its id. Before any of
that is written: lone surrogates (undecodable file names) become U+FFFD, control characters (escape sequences,
carriage returns, NUL) and bidirectional overrides are dropped, and CSV cells cannot start a formula.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean_text(text: object, keep_newlines: bool = True) -> str:
    """`text` as printable, encodable Unicode: surrogates → U+FFFD, control and bidi characters removed."""
    value = text if isinstance(text, str) else str(text)
    value = _SURROGATE.sub("\ufffd", value)
    value = _UNSAFE.sub("", value)
    return value if keep_newlines else " ".join(value.split())


def csv_cell(text: object) -> str:
    """One line of clean text that a spreadsheet shows as text (a leading = + - @ gets a quote)."""
    value = clean_text(text, keep_newlines=False)
    return "'" + value if value.startswith(FORMULA_START) else value


def markdown_inline(text: object) -> str:
    """Clean text for a Markdown table cell or list item: one line, no table breaks, no HTML."""
    value = clean_text(text, keep_newlines=False)
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_block(text: object) -> str:
    """Clean text inside a fenced block whose fence is longer than any backtick run in it."""
    value = clean_text(text).strip("\n")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{value}\n{fence}"


def safe_id(text: str, limit: int = 80) -> str:
    """A file-name-safe ASCII id: NFKC, letters/digits/-/_/. kept, others → '_', no leading - . _ ."""
    value = unicodedata.normalize("NFKC", clean_text(text))
    value = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in value)
    return value.strip("-._")[:limit].rstrip("-._") or "submission"


def clean_value(value: Any, depth: int = 0) -> Any:
    """A JSON value from the child with every string cleaned (keys too); depth is bounded by the channel."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list) and depth < 32:
        return [clean_value(v, depth + 1) for v in value]
    if isinstance(value, dict) and depth < 32:
        return {clean_text(k): clean_value(v, depth + 1) for k, v in value.items()}
    return value


def clean_outputs(outputs: Any) -> Any:
    """A child's outputs (``records.ChildOutputs``) with all of its text cleaned, in place; returns it."""
    outputs.detail, outputs.output = clean_text(outputs.detail), clean_text(outputs.output)
    outputs.isolation = [clean_text(x) for x in outputs.isolation]
    for record in [*outputs.cells, *outputs.calls]:
        record.error, record.message = clean_text(record.error), clean_text(record.message)
        record.traceback = clean_text(record.traceback)
    for call in outputs.calls:
        call.value = clean_value(call.value)
    return outputs
