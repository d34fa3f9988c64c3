"""The lesson's look, shared by every figure: rcParams, fixed colours per name, and reading rows of results.

``figure_function`` draws inside ``style()`` and closes the figure before returning it, so Jupyter shows it
exactly once, as the cell's value. ``read_rows``/``row_field`` read results given as dataclasses, dicts or
DataFrames by their one field name (``audio_s``, ``compute_s``, ``rtf``, ``wer`` ...), with clear errors.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "STYLE", "style", "color_for", "lighten", "figure_function", "read_rows", "as_dict", "row_field",
    "finite_number", "optional_number", "rtf_axis", "bar_labels", "pad_value_axis",
    "BLUE", "ORANGE", "GREEN", "VERMILION", "PINK", "SKY", "YELLOW", "GREY", "REALTIME_GID",
]

# --- one look for every figure ------------------------------------------------------------------------------

STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "figure.titlesize": 14,
    "figure.titleweight": "bold",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "magma",
}

# Okabe-Ito: distinguishable with every common colour-vision deficiency, and in greyscale print.
BLUE, ORANGE, GREEN, VERMILION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
PINK, SKY, YELLOW, GREY = "#CC79A7", "#56B4E9", "#F0E442", "#6E6E6E"
_PALETTE = (BLUE, ORANGE, GREEN, VERMILION, PINK, SKY, "#8C564B", "#4D4D4D")
REALTIME_GID = "realtime"  # gid of every real-time reference line (y = x, RTF = 1), for tests and tweaks

# first match wins, so "faster-whisper int8" is int8-green and "faster-whisper fp32" is sky, not fp32-blue
_KEYWORD_COLORS: tuple[tuple[str, str], ...] = (
    ("tone", ORANGE),
    ("speech", BLUE),
    ("overlap", GREEN),
    ("vad", PINK),
    ("naive", VERMILION),
    ("chunk", VERMILION),
    ("batch", PINK),
    ("parallel", SKY),
    ("int8", GREEN),
    ("fp16", PINK),
    ("float16", PINK),
    ("faster", SKY),
    ("fp32", BLUE),
    ("float32", BLUE),
    ("sequential", BLUE),
    ("transcribe", BLUE),
)
_MODEL_COLORS = {"tiny": SKY, "base": BLUE, "small": GREEN, "medium": ORANGE, "large": VERMILION, "turbo": PINK}
_MODEL_NAME = re.compile(r"^(tiny|base|small|medium|large|turbo)(\.en|-v\d)?$")

F = TypeVar("F", bound=Callable[..., Figure])


@contextmanager
def style() -> Iterator[None]:
    """Apply the lesson's rcParams inside a ``with`` block (every plot function here uses it already)."""
    with plt.rc_context(STYLE):
        yield


def color_for(name: str) -> str:
    """The fixed colour of a signal, method, precision or model name, so it looks the same in every figure."""
    key = str(name).strip().lower()
    model = _MODEL_NAME.match(key)
    if model:
        color = _MODEL_COLORS[model.group(1)]
        return lighten(color) if key.endswith(".en") else color
    for keyword, color in _KEYWORD_COLORS:
        if keyword in key:
            return color
    return _PALETTE[zlib.crc32(key.encode()) % len(_PALETTE)]


def lighten(color: str, amount: float = 0.35) -> str:
    """Mix a hex colour with white (English-only models are a lighter shade of their multilingual sibling)."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def figure_function(fn: F) -> F:
    """Draw inside ``style()`` and close the figure before returning it, so Jupyter displays it only once."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        before = set(plt.get_fignums())
        try:
            with style():
                fig = fn(*args, **kwargs)
        except Exception:
            for number in set(plt.get_fignums()) - before:  # a half-drawn figure must not pop up later
                plt.close(number)
            raise
        plt.close(fig)
        return fig

    return wrapper  # type: ignore[return-value]


# --- reading results of any shape ---------------------------------------------------------------------------

_MISSING = object()


def read_rows(data: Any, what: str, hint: str) -> list[dict[str, Any]]:
    """Rows as dicts from a DataFrame, a dict of columns, or a list of dataclasses/dicts/objects."""
    if data is None:
        raise ValueError(f"{what}: got None; pass {hint}")
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        rows = data.to_dict("records")
    elif isinstance(data, Mapping):
        columns = {key: list(value) for key, value in data.items() if isinstance(value, (list, tuple, np.ndarray))}
        if len(columns) != len(data) or len({len(v) for v in columns.values()}) > 1:
            raise TypeError(f"{what}: a dict must hold equally long columns (e.g. {{'method': [...]}}); pass {hint}")
        keys = list(columns)
        rows = [dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    elif isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{what}: expected rows, got {type(data).__name__}; pass {hint}")
    else:
        rows = [as_dict(item) for item in data]
    if not rows:
        raise ValueError(f"{what}: nothing to plot (0 rows); pass {hint}")
    return rows


def as_dict(item: Any) -> dict[str, Any]:
    """One row as a dict: dicts as they are, dataclasses by field (shallow), other objects by attributes."""
    if isinstance(item, Mapping):
        return dict(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        row = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    else:
        row = {k: v for k, v in vars(item).items() if not k.startswith("_")} if hasattr(item, "__dict__") else {}
    for name in ("rtf", "rtfx"):  # properties (LongformResult.rtfx, Evaluation.rtf) count as fields too
        if name not in row and hasattr(type(item), name):
            row[name] = getattr(item, name)
    return row


def row_field(row: Mapping[str, Any], name: str, what: str, i: int, default: Any = _MISSING) -> Any:
    """`row[name]` (NaN counts as missing); else `default` or a ValueError listing the fields the row has."""
    value = row.get(name, None)
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        return value
    if default is not _MISSING:
        return default
    raise ValueError(f"{what}: row {i} has no {name!r}; it has {', '.join(map(str, row)) or 'no fields'}")


def finite_number(value: Any, what: str, name: str) -> float:
    """A finite float, or a ValueError naming the field."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what}: {name} must be finite, got {value!r}")
    return number


def optional_number(value: Any) -> float | None:
    """None for missing/NaN values, else the float."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


# --- small drawing helpers ----------------------------------------------------------------------------------






def rtf_axis(ax: Axes, max_rtf: float, orientation: str = "h", headroom: float = 1.18) -> None:
    """Draw the RTF = 1 line; keep it in view unless every value is far below it (then say so instead)."""
    line = ax.axhline if orientation == "h" else ax.axvline
    handle = line(1.0, color=GREY, ls="--", lw=1.5, label="RTF = 1 (real time)", gid=REALTIME_GID)
    limit = ax.set_ylim if orientation == "h" else ax.set_xlim
    if max_rtf >= 0.25:
        limit(0, max(1.0, max_rtf) * headroom)
    else:
        handle.set_label("_RTF = 1 (real time), off the scale")  # a leading underscore keeps it out of legends
        limit(0, max_rtf * (headroom + 0.12) if max_rtf > 0 else 1.0)
        speed = 1 / max_rtf if max_rtf > 0 else math.inf
        ax.text(0.99, 0.98, f"RTF = 1 (real time) is off the scale:\nevery run ≥ {speed:.0f}× faster than real time",
                transform=ax.transAxes, ha="right", va="top", fontsize=9, color=GREY, gid="realtime-note")


def bar_labels(ax: Axes, bars: Any, labels: Sequence[str], fontsize: float = 9, **kwargs: Any) -> None:
    """Value labels at the end of bars."""
    ax.bar_label(bars, labels=list(labels), fontsize=fontsize, padding=3, **kwargs)


def pad_value_axis(ax: Axes, values: Sequence[float], orientation: str = "v", room: float = 1.25) -> None:
    """Leave room beyond the longest bar for its label."""
    top = max([v for v in values if v is not None] + [0.0])
    top = top * room if top > 0 else 1.0
    (ax.set_ylim if orientation == "v" else ax.set_xlim)(0, top)


