"""How results read: numbers rounded to the digits that matter, and small HTML tables for Jupyter.

The result classes of ``timing``, ``scoring``, ``evaluation`` and ``engines`` build their ``__repr__`` and
``_repr_html_`` from these helpers, so a notebook shows "RTF 0.035" and "WER 5.2 %", never 17-digit floats.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["seconds", "rtf", "percent", "speed", "shorten", "html_table"]


def seconds(value: float) -> str:
    """'0.38 s', '12.3 s', '255 s': two significant digits for short times, whole seconds for long ones."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f} s"
    return f"{value:.1f} s" if abs(value) >= 10 else f"{value:.2f} s"


def rtf(value: float) -> str:
    """A real-time factor with the digits that matter: 1.66, 0.15, 0.035, 0.0067."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def percent(fraction: float | None) -> str:
    """'5.2 %' for 0.052; 'n/a' when not measured."""
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    return f"{100 * fraction:.1f} %"


def speed(rtf_value: float) -> str:
    """'29× faster than real time' or '1.4× slower than real time' for a real-time factor."""
    if rtf_value is None or not math.isfinite(rtf_value) or rtf_value <= 0:
        return "instant"
    if rtf_value < 1:
        factor = 1 / rtf_value
        return f"{factor:.0f}× faster than real time" if factor >= 10 else f"{factor:.1f}× faster than real time"
    return f"{rtf_value:.1f}× slower than real time"


def shorten(text: str, width: int = 60) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def html_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A small HTML table (escaped cells, numbers right-aligned) under a one-line caption."""
    def cell(value: object, tag: str) -> str:
        align = "right" if isinstance(value, (int, float)) or _numeric(str(value)) else "left"
        return f"<{tag} style='text-align:{align}'>{html.escape(str(value))}</{tag}>"

    head = "".join(cell(name, "th") for name in header)
    body = "".join("<tr>" + "".join(cell(value, "td") for value in row) + "</tr>" for row in rows)
    return (f"<div><p style='margin:0 0 4px 0'><b>{html.escape(caption)}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _numeric(text: str) -> bool:
    """True for '0.035', '5.2 %', '12.3 s', 'n/a' (cells that read as numbers)."""
    stripped = text.replace("%", "").replace(" s", "").replace("×", "").strip()
    try:
        float(stripped)
    except ValueError:
        return stripped == "n/a"
    return True
