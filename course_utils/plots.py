"""Figures for the lesson: each function takes results (dataclasses, dicts, DataFrames) and returns a Figure.

Measuring and showing are separate: ``timing``, ``scoring``, ``evaluation`` and ``longform`` produce the
numbers, these functions only draw them. Every figure is drawn inside ``style()`` (one look for the whole
lesson, a fixed colour per signal, method and model: ``color_for``) and closed before it is returned, so
Jupyter shows it exactly once, as the cell's value. Nothing here calls ``plt.show()``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import NullLocator

from .audio import SAMPLE_RATE, load_audio
from .scoring import BoundaryLoss, boundary_losses

__all__ = [
    "STYLE", "style", "color_for",
    "plot_waveform_and_mel", "plot_rtf_vs_duration", "plot_chunk_timeline", "plot_method_comparison",
    "plot_boundary_loss", "plot_model_comparison",
    "plot_precision_comparison", "plot_confusion_matrix", "plot_throughput", "plot_word_timeline",
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
        return _lighten(color) if key.endswith(".en") else color
    for keyword, color in _KEYWORD_COLORS:
        if keyword in key:
            return color
    return _PALETTE[zlib.crc32(key.encode()) % len(_PALETTE)]


def _lighten(color: str, amount: float = 0.35) -> str:
    """Mix a hex colour with white (English-only models are a lighter shade of their multilingual sibling)."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def _figure_function(fn: F) -> F:
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


def _records(data: Any, what: str, hint: str) -> list[dict[str, Any]]:
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
        rows = [_as_dict(item) for item in data]
    if not rows:
        raise ValueError(f"{what}: nothing to plot (0 rows); pass {hint}")
    return rows


def _as_dict(item: Any) -> dict[str, Any]:
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


def _field(row: Mapping[str, Any], name: str, what: str, i: int, default: Any = _MISSING) -> Any:
    """`row[name]` (NaN counts as missing); else `default` or a ValueError listing the fields the row has."""
    value = row.get(name, None)
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        return value
    if default is not _MISSING:
        return default
    raise ValueError(f"{what}: row {i} has no {name!r}; it has {', '.join(map(str, row)) or 'no fields'}")


def _number(value: Any, what: str, name: str) -> float:
    """A finite float, or a ValueError naming the field."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what}: {name} must be finite, got {value!r}")
    return number


def _optional_number(value: Any) -> float | None:
    """None for missing/NaN values, else the float."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


# --- small drawing helpers ----------------------------------------------------------------------------------


def _speed_label(value: float, baseline: float) -> str:
    """'baseline', '2.1× faster' or '1.3× slower' for a time against the baseline's time."""
    if value <= 0 or baseline <= 0:
        return ""
    ratio = baseline / value
    if math.isclose(ratio, 1.0, rel_tol=0.005):
        return "1.0×"
    return f"{ratio:.1f}× faster" if ratio > 1 else f"{1 / ratio:.1f}× slower"


def _fmt_rtf(rtf: float) -> str:
    """RTF with the digits that matter: 1.66, 0.15, 0.014, 0.0067."""
    return f"{rtf:.2f}" if rtf >= 0.1 else f"{rtf:.2g}"


def _rtf_axis(ax: Axes, max_rtf: float, orientation: str = "h", headroom: float = 1.18) -> None:
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


def _bar_labels(ax: Axes, bars: Any, labels: Sequence[str], fontsize: float = 9, **kwargs: Any) -> None:
    """Value labels at the end of bars."""
    ax.bar_label(bars, labels=list(labels), fontsize=fontsize, padding=3, **kwargs)


def _pad_value_axis(ax: Axes, values: Sequence[float], orientation: str = "v", room: float = 1.25) -> None:
    """Leave room beyond the longest bar for its label."""
    top = max([v for v in values if v is not None] + [0.0])
    top = top * room if top > 0 else 1.0
    (ax.set_ylim if orientation == "v" else ax.set_xlim)(0, top)


def _envelope(audio: np.ndarray, sr: int, max_points: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, min, max) of the waveform in at most `max_points` blocks: long audio draws fast and crisp."""
    n = len(audio)
    if n <= max_points * 2:
        t = np.arange(n) / sr
        return t, audio, audio
    block = math.ceil(n / max_points)
    padded = np.pad(audio, (0, (-n) % block), mode="edge").reshape(-1, block)
    t = (np.arange(len(padded)) * block + block / 2) / sr
    return t, padded.min(axis=1), padded.max(axis=1)


def _draw_waveform(ax: Axes, audio: np.ndarray, sr: int, color: str = BLUE) -> None:
    """Waveform (or its min/max envelope for long audio) on a symmetric amplitude axis."""
    t, low, high = _envelope(audio, sr)
    if low is high:
        ax.plot(t, audio, color=color, lw=0.6)
    else:
        ax.fill_between(t, low, high, color=color, lw=0, step="mid")
    peak = float(np.abs(audio).max()) or 1.0
    ax.set_ylim(-peak * 1.1, peak * 1.1)
    ax.set_xlim(0, len(audio) / sr)
    ax.set_ylabel("amplitude")


def _audio_for_plot(audio: Any, sr: int) -> np.ndarray:
    """16 kHz mono float32 from a path or an array at `sr`, through the one loader (clear errors when empty)."""
    if isinstance(audio, (str, os.PathLike)):
        return load_audio(audio)
    return load_audio(audio, sr=SAMPLE_RATE, source_sr=sr)


# --- 1. waveform and log-mel ---------------------------------------------------------------------------------


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa's default, which Whisper's filterbank uses): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=float)
    log_step = math.log(6.4) / 27.0
    return np.where(hz < 1000, hz * 3 / 200, 15 + np.log(np.maximum(hz, 1e-9) / 1000) / log_step)


def _mel_ticks(n_mels: int, max_hz: float = SAMPLE_RATE / 2) -> tuple[list[float], list[str]]:
    """Y positions (mel bin centres) and labels for a few frequencies in Hz."""
    points = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(max_hz)), n_mels + 2)
    centres = points[1:-1]
    ticks, labels = [], []
    for hz in (250, 500, 1000, 2000, 4000, 7000):
        y = float(np.interp(_hz_to_mel(np.array(hz)), centres, np.arange(n_mels))) + 0.5
        ticks.append(y)
        labels.append(f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz} Hz")
    return ticks, labels


@_figure_function
def plot_waveform_and_mel(audio: Any, sr: int = SAMPLE_RATE, title: str = "", n_mels: int = 80) -> Figure:
    """Waveform above Whisper's own log-mel (``whisper.log_mel_spectrogram``), on one time axis.

    `audio` is an array at `sr` (resampled to 16 kHz like everything Whisper hears) or a file path. The
    spectrogram is exactly the encoder's input, computed as ``whisper.transcribe`` does (with 30 s of padding,
    which sets the same normalisation), but only the real duration is drawn. `n_mels` is 80, or 128 for
    large-v3/turbo.
    """
    import whisper
    from whisper.audio import HOP_LENGTH, N_FRAMES, N_SAMPLES

    if n_mels not in (80, 128):
        raise ValueError(f"n_mels must be 80 (most Whisper models) or 128 (large-v3, turbo), got {n_mels!r}")
    samples = _audio_for_plot(audio, sr)
    duration = len(samples) / SAMPLE_RATE
    n_frames = max(1, len(samples) // HOP_LENGTH)
    mel = whisper.log_mel_spectrogram(samples, n_mels=n_mels, padding=N_SAMPLES)[:, :n_frames].numpy()

    fig = plt.figure(figsize=(11, 6), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[50, 1], height_ratios=[1, 1.6])
    ax_wave = fig.add_subplot(grid[0, 0])
    ax_mel = fig.add_subplot(grid[1, 0], sharex=ax_wave)
    ax_bar = fig.add_subplot(grid[1, 1])

    _draw_waveform(ax_wave, samples, SAMPLE_RATE)
    ax_wave.set_title("Waveform (16 kHz)", loc="left")
    ax_wave.tick_params(labelbottom=False)

    image = ax_mel.imshow(mel, origin="lower", aspect="auto", interpolation="antialiased",
                          extent=(0, n_frames * HOP_LENGTH / SAMPLE_RATE, 0, n_mels))
    ax_mel.grid(False)
    ticks, labels = _mel_ticks(n_mels)
    ax_mel.set_yticks(ticks, labels)
    ax_mel.set_ylabel(f"mel bin ({n_mels} bins)")
    ax_mel.set_xlabel("time (s)")
    ax_mel.set_xlim(0, duration)
    windows = math.ceil(duration / 30)
    padding = (f"Whisper pads this to {N_FRAMES} frames (30 s) with silence before the encoder"
               if duration <= 30 else f"Whisper reads it in {N_FRAMES}-frame (30 s) windows, ~{windows} here")
    ax_mel.set_title(f"Log-mel spectrogram the model sees: {n_mels} × {n_frames} frames (10 ms each); "
                     f"{padding}", loc="left", fontsize=10, fontweight="normal")
    colorbar = fig.colorbar(image, cax=ax_bar)
    colorbar.set_label("log-mel (normalised)")
    fig.suptitle(title or f"{duration:.1f} s of audio, as Whisper hears it")
    return fig


# --- 2. RTF against duration ----------------------------------------------------------------------------------

_SWEEP_HINT = "the SweepPoints from timing.rtf_sweep (or timing.sweep_table(points))"


@_figure_function
def plot_rtf_vs_duration(points: Any) -> Figure:
    """Processing time against audio duration with the real-time line, and RTF bars per duration and signal.

    `points`: ``SweepPoint``s (or their DataFrame/dicts) with signal ('speech'/'tone'), audio_s,
    compute_s and rtf. Shows why RTF is not constant: a short clip still costs a full 30-s window.
    """
    what = "plot_rtf_vs_duration"
    rows = _records(points, what, _SWEEP_HINT)
    data: dict[str, dict[float, tuple[float, float]]] = {}
    for i, row in enumerate(rows):
        signal = str(_field(row, "signal", what, i, "speech"))
        duration = _number(_field(row, "audio_s", what, i), what, "audio_s")
        seconds = _number(_field(row, "compute_s", what, i), what, "compute_s")
        rtf = _number(_field(row, "rtf", what, i, seconds / duration if duration else 0.0), what, "rtf")
        data.setdefault(signal, {})[round(duration, 3)] = (seconds, rtf)
    signals = sorted(data, key=lambda s: ({"speech": 0, "tone": 1}.get(s, 2), list(data).index(s)))
    durations = sorted({d for points_ in data.values() for d in points_})

    fig, (ax_time, ax_rtf) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    x_max = max(durations) * 1.05
    t_max = max(seconds for points_ in data.values() for seconds, _ in points_.values())
    for signal in signals:
        xs = sorted(data[signal])
        ax_time.plot(xs, [data[signal][x][0] for x in xs], "o-", color=color_for(signal), lw=2, ms=6, label=signal)
    max_rtf = max(rtf for points_ in data.values() for _, rtf in points_.values())
    diagonal = np.array([0.0, x_max])
    off_scale = t_max < 0.25 * x_max  # all far below real time: zoom in on the data, say where the line went
    ax_time.plot(diagonal, diagonal, "--", color=GREY, lw=1.5, gid=REALTIME_GID,
                 label="_real time (y = x)" if off_scale else "real time (y = x)")
    ax_time.fill_between(diagonal, diagonal, x_max * 10, color=VERMILION, alpha=0.06, lw=0,
                         label="_slower than real time" if off_scale else "slower than real time")
    if off_scale:
        ax_time.set_ylim(0, t_max * 1.6)
        ax_time.text(0.99, 0.03, f"the real-time line (y = x) leaves the plot at {t_max * 1.6:.2g} s:\n"
                     f"every run ≥ {1 / max_rtf:.0f}× faster than real time", transform=ax_time.transAxes,
                     ha="right", va="bottom", fontsize=9, color=GREY, gid="realtime-note")
    else:
        ax_time.set_ylim(0, max(t_max, x_max) * 1.05)
    ax_time.set(xlim=(0, x_max), xlabel="audio duration (s)", ylabel="processing time (s)",
                title="Processing time vs audio duration")
    ax_time.legend(loc="upper center" if off_scale else "upper left", ncols=len(signals) if off_scale else 1)

    width = 0.8 / len(signals)
    for j, signal in enumerate(signals):
        present = [(k, d) for k, d in enumerate(durations) if d in data[signal]]
        xs = [k + (j - (len(signals) - 1) / 2) * width for k, _ in present]
        rtfs = [data[signal][d][1] for _, d in present]
        bars = ax_rtf.bar(xs, rtfs, width * 0.95, color=color_for(signal), label=signal)
        _bar_labels(ax_rtf, bars, [_fmt_rtf(r) for r in rtfs], fontsize=8)
    ax_rtf.set_xticks(range(len(durations)), [f"{d:g} s" for d in durations])
    ax_rtf.grid(False, axis="x")
    _rtf_axis(ax_rtf, max_rtf, headroom=1.4)
    ax_rtf.set(xlabel="audio duration", ylabel="real-time factor (lower is faster)",
               title="RTF per duration (processing time / audio time)")
    ax_rtf.legend(loc="upper left", ncols=len(signals) + 1)
    return fig


# --- 3. long audio: chunk timeline --------------------------------------------------------------------------


@_figure_function
def plot_chunk_timeline(result: Any, title: str = "") -> Figure:
    """Chunks as bars over the audio timeline (overlaps hatched), and each chunk's RTF below.

    `result` is a ``longform.LongformResult`` (or anything with ``.chunks``), or the chunks themselves:
    ``ChunkRecord``s/dicts/a DataFrame with start_s, end_s and rtf (or compute_s), optionally text.
    """
    what = "plot_chunk_timeline"
    chunks = _records(getattr(result, "chunks", result), what,
                      "a LongformResult from course_utils.longform (or its .chunks)")
    spans, rtfs, texts = [], [], []
    for i, row in enumerate(chunks):
        start = _number(_field(row, "start_s", what, i), what, "start_s")
        end = _number(_field(row, "end_s", what, i), what, "end_s")
        if end <= start:
            raise ValueError(f"{what}: chunk {i} ends ({end}) before it starts ({start})")
        seconds = _field(row, "compute_s", what, i, None)
        rtf = _field(row, "rtf", what, i, None if seconds is None else float(seconds) / (end - start))
        if rtf is None:
            raise ValueError(f"{what}: chunk {i} has neither rtf nor compute_s")
        spans.append((start, end))
        rtfs.append(float(rtf))
        texts.append(str(_field(row, "text", what, i, "")))
    duration = float(getattr(result, "audio_s", 0.0) or max(end for _, end in spans))
    method = str(getattr(result, "method", "") or "chunks")
    color = color_for(method)
    n = len(spans)

    fig, (ax_line, ax_rtf) = plt.subplots(2, 1, figsize=(12, 2.2 + 0.42 * n + 3.2), layout="constrained",
                                          height_ratios=[0.6 + 0.42 * n, 3.2])
    char_s = duration / (12 * 72 / (0.62 * 8.5))  # seconds of timeline per character at font size 8.5
    for i, ((start, end), text) in enumerate(zip(spans, texts, strict=True)):
        ax_line.barh(i, end - start, left=start, height=0.62, color=color, alpha=0.85, gid="chunk")
        if i and start < spans[i - 1][1]:
            overlap_end = min(end, spans[i - 1][1])
            ax_line.barh(i, overlap_end - start, left=start, height=0.62, facecolor="none", edgecolor="black",
                         hatch="///", lw=0, gid="overlap")
        text_start = max(start, spans[i - 1][1]) if i else start  # after the hatched overlap
        room = max(0, int((end - text_start) / char_s) - 8)
        snippet = text if len(text) <= room else text[: max(0, room - 1)].rstrip() + "…"
        ax_line.text(text_start + char_s, i, f"{i + 1}" + (f"  “{snippet}”" if snippet and room > 3 else ""),
                     va="center", ha="left", fontsize=8.5, color="white", clip_on=True)
    ax_line.set_yticks(range(n), [f"{s:.0f}–{e:.0f} s" for s, e in spans], fontsize=9)
    ax_line.set_ylim(n - 0.4, -0.6)
    ax_line.set_xlim(0, duration)
    ax_line.set_xlabel("audio time (s)")
    ax_line.grid(False, axis="y")
    overlapping = any(spans[i][0] < spans[i - 1][1] for i in range(1, n))
    ax_line.set_title(f"{n} chunks over {duration:.1f} s of audio" + (
        " (hatched: overlap with the previous chunk)" if overlapping
        else " (back to back: words at the cuts may be lost or garbled)"), loc="left")

    bars = ax_rtf.bar(range(1, n + 1), rtfs, color=color, width=0.7)
    _bar_labels(ax_rtf, bars, [_fmt_rtf(r) for r in rtfs], fontsize=8,
                label_type="center", color="white")
    overall = getattr(result, "rtf", None)
    if overall is not None:
        ax_rtf.axhline(float(overall), color=color, ls=":", lw=1.5, label=f"whole call: RTF {float(overall):.3f}")
    _rtf_axis(ax_rtf, max(rtfs + [float(overall or 0)]))
    ax_rtf.set_xticks(range(1, n + 1))
    ax_rtf.grid(False, axis="x")
    ax_rtf.set(xlabel="chunk", ylabel="RTF (lower is faster)", title="Real-time factor per chunk")
    ax_rtf.legend(loc="upper left", fontsize=9)
    fig.suptitle(title or f"Long audio, {method}")
    return fig


# --- 4. methods compared: time and WER ------------------------------------------------------------------------

_METHOD_HINT = "rows with method, compute_s and wer (evaluation.method_table(...), dicts or a DataFrame)"


@_figure_function
def plot_method_comparison(rows: Any, baseline: str | None = None, title: str = "") -> Figure:
    """Time per method (with speed against a baseline) next to WER per method, as horizontal bars.

    `rows`: dicts/DataFrame/dataclasses with method, compute_s and wer
    (a fraction; None/NaN when not scored). `baseline` is a method name; default the first row.
    """
    what = "plot_method_comparison"
    records = _records(rows, what, _METHOD_HINT)
    methods = [str(_field(r, "method", what, i)) for i, r in enumerate(records)]
    seconds = [_number(_field(r, "compute_s", what, i), what, "compute_s")
               for i, r in enumerate(records)]
    wers = [_optional_number(_field(r, "wer", what, i, None)) for i, r in enumerate(records)]
    base = _baseline_index(methods, baseline, what)
    colors = [color_for(m) for m in methods]
    ys = np.arange(len(methods))

    fig, (ax_time, ax_wer) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.55 * len(methods)), sharey=True,
                                          layout="constrained")
    bars = ax_time.barh(ys, seconds, color=colors, height=0.65)
    labels = [f"{s:.1f} s" + ("  (baseline)" if i == base else f"  ({_speed_label(s, seconds[base])})")
              for i, s in enumerate(seconds)]
    _bar_labels(ax_time, bars, labels)
    _pad_value_axis(ax_time, seconds, "h", room=1.6)
    ax_time.set_yticks(ys, methods)
    ax_time.invert_yaxis()
    ax_time.grid(False, axis="y")
    ax_time.set(xlabel="processing time (s)", title="Time (lower is faster)")

    _wer_bars(ax_wer, ys, wers, colors, "h")
    ax_wer.set(title="Word error rate (lower is better)")
    fig.suptitle(title or "Long-form methods on the same audio")
    return fig


def _baseline_index(names: Sequence[str], baseline: str | None, what: str) -> int:
    """Index of the baseline row (the first when None)."""
    if baseline is None:
        return 0
    if baseline not in names:
        raise ValueError(f"{what}: baseline {baseline!r} is not one of the rows ({', '.join(names)})")
    return list(names).index(baseline)


def _wer_bars(ax: Axes, positions: Sequence[float], wers: Sequence[float | None], colors: Sequence[str],
              orientation: str = "v") -> None:
    """WER bars in percent, 'n/a' where a value is missing."""
    values = [100 * w if w is not None else 0.0 for w in wers]
    draw = ax.barh if orientation == "h" else ax.bar
    bars = draw(positions, values, color=colors, **({"height": 0.65} if orientation == "h" else {"width": 0.65}))
    _bar_labels(ax, bars, [f"{v:.1f} %" if w is not None else "n/a" for v, w in zip(values, wers, strict=True)])
    _pad_value_axis(ax, values, orientation, room=1.3)
    label = "WER (%)"
    if orientation == "h":
        ax.set_xlabel(label)
        ax.grid(False, axis="y")
    else:
        ax.set_ylabel(label)
        ax.grid(False, axis="x")


# --- 5. words lost at a naive chunk boundary (measured by scoring.boundary_losses) ----------------------


def _text_width_pt(text: str, fontsize: float, family: str = "sans-serif") -> float:
    """Width of `text` in points as Agg renders it (the same fonts any backend's PNG output uses)."""
    from matplotlib.font_manager import FontProperties

    width, _, _ = _renderer72().get_text_width_height_descent(text, FontProperties(family=family, size=fontsize),
                                                              ismath=False)
    return float(width)


@functools.lru_cache(maxsize=1)
def _renderer72() -> Any:
    """A 72-dpi Agg renderer, so measured text widths are in points."""
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, 72)


def _plural(n: int, word: str) -> str:
    """'1 word', '2 words'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@_figure_function
def plot_boundary_loss(
    reference: str,
    chunked: Any,
    overlapped: Any = None,
    language: str = "en",
    context_words: int = 6,
    max_boundaries: int = 3,
    title: str = "",
) -> Figure:
    """The reference words around naive chunk boundaries: lost words in red, and what overlapping kept.

    `chunked` is the naive ``LongformResult`` (or its chunk texts), `overlapped` the overlapping one (or its
    text). Shows the `max_boundaries` boundaries that lost the most words (in time order); each is a strip
    of reference words, one row per method, with the cut as a dashed line (through the lost words when the
    cut swallowed them). See ``boundary_losses`` for the numbers.
    """
    from matplotlib.transforms import offset_copy

    if max_boundaries < 1:
        raise ValueError(f"plot_boundary_loss: max_boundaries must be >= 1, got {max_boundaries}")
    losses = boundary_losses(reference, chunked, overlapped, language, context_words)
    worst = sorted(losses, key=lambda b: (-len(b.lost), b.boundary))[:max_boundaries]
    shown = sorted(worst, key=lambda b: b.boundary)
    rows = [("naive chunks", "naive", "chunked")]
    if overlapped is not None:
        rows.append(("with overlap", "overlap", "overlapped"))
    fontsize, gap = 10.5, 9.0  # points between words: room for the highlight boxes
    ellipsis = _text_width_pt("… ", fontsize)
    layouts = []
    for loss in shown:
        x, positions = (ellipsis if loss.window[0] > 0 else 0.0), {}
        for i in range(*loss.window):
            width = _text_width_pt(loss.reference[i], fontsize)
            positions[i] = (x, width)
            x += width + gap
        layouts.append((positions, x))
    strip_pt = max(end for _, end in layouts) + ellipsis
    fig_width = min(20.0, max(8.0, 1.9 + strip_pt / 72))
    height = 0.7 + (0.8 + 0.45 * len(rows)) * len(shown)
    fig, axes = plt.subplots(len(shown), 1, figsize=(fig_width, height), layout="constrained", squeeze=False)
    face = {"lost": "#F8C8C0", "garbled": "#FBE3B0", "kept": "#BFE8D8"}
    text_color = {"ok": "#333333", "lost": "#B00000", "garbled": "#8A5A00", "kept": "#006B4A"}
    for ax, loss, (positions, end) in zip(axes[:, 0], shown, layouts, strict=True):
        start, stop = loss.window
        for y, (_, key, attr) in enumerate(reversed(rows)):
            status = getattr(loss, attr)
            for i in range(start, stop):
                state = status[i]
                if key == "overlap" and state == "ok" and loss.chunked[i] == "lost":
                    state = "kept"
                box = dict(boxstyle="round,pad=0.2", fc=face[state], ec="none") if state in face else None
                at = offset_copy(ax.get_yaxis_transform(), fig=fig, x=positions[i][0], units="points")
                ax.text(0, y, loss.reference[i], transform=at, fontsize=fontsize, va="center", ha="left",
                        color=text_color[state], bbox=box, gid=f"{key}:{state}")
            for shown_edge, x in ((start > 0, 0.0), (stop < len(loss.reference), end)):
                if shown_edge:
                    at = offset_copy(ax.get_yaxis_transform(), fig=fig, x=x, units="points")
                    ax.text(0, y, "…", transform=at, fontsize=fontsize, va="center", color=GREY)
        ax.plot([0, 0], [-0.55, len(rows) - 0.45], color="black", ls="--", lw=1.2, gid="boundary",
                transform=offset_copy(ax.get_yaxis_transform(), fig=fig, x=_cut_pt(loss, positions, end, gap),
                                      units="points"))
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
        ax.set_xticks([])
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.tick_params(left=False)
        where = f" at {loss.time_s:.1f} s" if loss.time_s is not None else ""
        summary = _plural(len(loss.lost), "word") + " lost" if loss.lost else "no words lost"
        if overlapped is not None and loss.lost:
            summary += f", {len(loss.recovered)} kept with overlap"
        ax.set_title(f"Cut {loss.boundary} (chunk {loss.boundary} | {loss.boundary + 1}){where}: {summary}",
                     loc="left", fontsize=11)
    handles = [Patch(fc=face["lost"], label="lost at the cut"), Patch(fc=face["garbled"], label="misrecognised")]
    if overlapped is not None:
        handles.append(Patch(fc=face["kept"], label="lost by naive chunks, kept with overlap"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9)
    total = sum(len(b.lost) for b in losses)
    fig.suptitle(title or f"Words lost at naive chunk cuts: {_plural(total, 'word')} at "
                 f"{_plural(len(losses), 'cut')} (reference words, normalised)", fontsize=12)
    return fig


def _cut_pt(loss: BoundaryLoss, positions: Mapping[int, tuple[float, float]], end: float, gap: float) -> float:
    """Where to draw the cut: before the word it falls before, or through the middle of the words it swallowed."""
    p = loss.position
    first = p
    while first - 1 >= loss.window[0] and loss.chunked[first - 1] == "lost":
        first -= 1
    last = p
    while last < loss.window[1] and loss.chunked[last] == "lost":
        last += 1
    if first == last:  # no lost word touches the cut
        return positions[p][0] - gap / 2 if p in positions else end - gap / 2
    left = positions[first][0]
    right = positions[last - 1][0] + positions[last - 1][1]
    return (left + right) / 2


# --- 6. model comparison ------------------------------------------------------------------------------------

_MODEL_HINT = "rows with model, parameters_m, rtf, wer and load_s (e.g. evaluation.compare_models(...))"


def _realtime_label(rtf: float) -> str:
    """'0.250 (4.0× faster than real time)' or '1.144 (slower than real time)' for a bar label."""
    if rtf <= 0:
        return "0"
    if rtf >= 1:
        return f"{rtf:.3f}\n(slower than real time)"
    return f"{rtf:.3f}\n({1 / rtf:.1f}× faster than real time)"


@_figure_function
def plot_model_comparison(rows: Any, title: str = "") -> Figure:
    """Four panels per model: size (parameters, load time), RTF, the speed-vs-size trade-off and WER.

    `rows`: ``evaluation.ModelComparison``s or dicts/DataFrame with model, parameters_m, rtf, and optionally
    wer (fraction; None for 'not measured') and load_s. Models are sorted by size.
    """
    what = "plot_model_comparison"
    records = _records(rows, what, _MODEL_HINT)
    models = []
    for i, r in enumerate(records):
        models.append({
            "model": str(_field(r, "model", what, i)),
            "params": _number(_field(r, "parameters_m", what, i), what, "parameters_m"),
            "rtf": _number(_field(r, "rtf", what, i), what, "rtf"),
            "wer": _optional_number(_field(r, "wer", what, i, None)),
            "load_s": _optional_number(_field(r, "load_s", what, i, None)),
        })
    models.sort(key=lambda m: m["params"])
    names = [m["model"] for m in models]
    colors = [color_for(n) for n in names]
    xs = np.arange(len(models))

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), layout="constrained")
    (ax_size, ax_rtf), (ax_trade, ax_wer) = axes
    params = [m["params"] for m in models]
    bars = ax_size.bar(xs, params, color=colors, width=0.65)
    _bar_labels(ax_size, bars, [f"{m['params']:.0f} M" + (f"\nload {m['load_s']:.1f} s" if m["load_s"] is not None
                                                          else "") for m in models])
    _pad_value_axis(ax_size, params, room=1.3)
    ax_size.set(ylabel="parameters (millions)", title="Model size")

    rtfs = [m["rtf"] for m in models]
    bars = ax_rtf.bar(xs, rtfs, color=colors, width=0.65)
    _bar_labels(ax_rtf, bars, [_realtime_label(r) for r in rtfs])
    _rtf_axis(ax_rtf, max(rtfs) * 1.15)
    ax_rtf.set(ylabel="RTF (lower is faster)", title="Real-time factor")

    ax_trade.plot(params, rtfs, color=GREY, lw=1, zorder=1)
    ax_trade.scatter(params, rtfs, c=colors, s=120, zorder=2, edgecolors="white", linewidths=1.5)
    for m in models:
        ax_trade.annotate(m["model"], (m["params"], m["rtf"]), xytext=(-6, 9), ha="right",
                          textcoords="offset points", fontsize=10)
    if len(models) > 1 and max(params) / max(min(params), 1e-9) > 5:
        ax_trade.set_xscale("log")
        ax_trade.xaxis.set_minor_locator(NullLocator())
    ax_trade.set_xticks(sorted(set(params)), [f"{p:.0f}" for p in sorted(set(params))])
    ax_trade.margins(x=0.2, y=0.25)
    ax_trade.set_ylim(bottom=0)
    ax_trade.set(xlabel="parameters (millions)", ylabel="RTF (lower is faster)",
                 title="Speed vs size trade-off")

    _wer_bars(ax_wer, xs, [m["wer"] for m in models], colors)
    ax_wer.set(title="Word error rate (lower is better)")
    for ax in (ax_size, ax_rtf, ax_wer):
        ax.set_xticks(xs, names)
        ax.grid(False, axis="x")
    fig.suptitle(title or "Whisper model sizes on the same speech")
    return fig


# --- 7. precision / engine comparison -----------------------------------------------------------------------

_PRECISION_HINT = ("rows with label (e.g. 'openai-whisper fp32', 'faster-whisper int8') and compute_s (or rtf), "
                   "optionally wer")


@_figure_function
def plot_precision_comparison(rows: Any, baseline: str | None = None, title: str = "") -> Figure:
    """Time per precision/engine with speed-up labels against a baseline, plus WER when rows have it.

    `rows`: dicts/DataFrame (e.g. ``engines.EngineRun``s) with label, compute_s (else rtf)
    and optional wer. For FP32 vs FP16 on a GPU, or openai-whisper vs faster-whisper fp32/int8 on a CPU.
    """
    what = "plot_precision_comparison"
    records = _records(rows, what, _PRECISION_HINT)
    labels = [str(_field(r, "label", what, i))
              for i, r in enumerate(records)]
    has_seconds = all(_field(r, "compute_s", what, i, None) is not None for i, r in enumerate(records))
    key = "compute_s" if has_seconds else "rtf"
    values = [_number(_field(r, key, what, i), what, key) for i, r in enumerate(records)]
    wers = [_optional_number(_field(r, "wer", what, i, None)) for i, r in enumerate(records)]
    show_wer = any(w is not None for w in wers)
    base = _baseline_index(labels, baseline, what)
    colors = [color_for(label) for label in labels]
    ys = np.arange(len(labels))

    fig, axes = plt.subplots(1, 2 if show_wer else 1, figsize=(12 if show_wer else 8, 1.6 + 0.6 * len(labels)),
                             sharey=True, layout="constrained", squeeze=False)
    ax_time = axes[0, 0]
    bars = ax_time.barh(ys, values, color=colors, height=0.65)
    unit = " s" if has_seconds else ""
    texts = [f"{v:.2f}{unit}  " + ("(baseline)" if i == base else f"({_speed_label(v, values[base])})")
             for i, v in enumerate(values)]
    _bar_labels(ax_time, bars, texts)
    _pad_value_axis(ax_time, values, "h", room=1.6)
    ax_time.set_yticks(ys, labels)
    ax_time.invert_yaxis()
    ax_time.grid(False, axis="y")
    ax_time.set(xlabel="processing time (s)" if has_seconds else "RTF", title="Time (lower is faster)")
    if show_wer:
        _wer_bars(axes[0, 1], ys, wers, colors, "h")
        axes[0, 1].set(title="Word error rate (lower is better)")
    fig.suptitle(title or "Precision and engine: same audio, same model size")
    return fig


# --- 8. language identification: confusion matrix -----------------------------------------------------------


@_figure_function
def plot_confusion_matrix(
    matrix: Any, labels: Sequence[str] | None = None, predicted_labels: Sequence[str] | None = None, title: str = ""
) -> Figure:
    """Counts of true (rows) vs predicted (columns) labels, coloured by row share, with accuracy per row.

    `matrix` is a 2-D array/list or a DataFrame (e.g. ``pd.crosstab(true, predicted)``, whose index and
    columns give the labels). `predicted_labels` default to `labels` (square matrix).
    """
    what = "plot_confusion_matrix"
    if hasattr(matrix, "columns") and hasattr(matrix, "index"):
        labels = list(map(str, matrix.index)) if labels is None else labels
        predicted_labels = list(map(str, matrix.columns)) if predicted_labels is None else predicted_labels
        matrix = matrix.to_numpy()
    counts = np.asarray(matrix, dtype=float)
    if counts.size == 0:
        raise ValueError(f"{what}: the matrix is empty; pass counts of true (rows) vs predicted (columns) labels")
    if counts.ndim != 2:
        raise ValueError(f"{what}: the matrix must be 2-D (true × predicted), got shape {counts.shape}")
    if labels is None:
        raise ValueError(f"{what}: pass labels (one per row), e.g. the language codes")
    labels = [str(label) for label in labels]
    predicted_labels = labels if predicted_labels is None else [str(label) for label in predicted_labels]
    if len(labels) != counts.shape[0] or len(predicted_labels) != counts.shape[1]:
        raise ValueError(f"{what}: matrix has shape {counts.shape} but there are {len(labels)} row labels and "
                         f"{len(predicted_labels)} column labels")
    totals = counts.sum(axis=1)
    shares = np.divide(counts, totals[:, None], out=np.zeros_like(counts), where=totals[:, None] > 0)
    correct = np.array([counts[i, predicted_labels.index(lab)] if lab in predicted_labels else 0.0
                        for i, lab in enumerate(labels)])

    n_rows, n_cols = counts.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 + 0.62 * n_cols + 1.6), max(3.2, 1.5 + 0.62 * n_rows)),
                           layout="constrained")
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1.15, aspect="equal")
    ax.grid(False)
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(True, which="minor", color="white", lw=2, alpha=1)
    ax.tick_params(which="minor", length=0)
    for i in range(n_rows):
        for j in range(n_cols):
            if counts[i, j]:
                ax.text(j, i, f"{counts[i, j]:g}", ha="center", va="center", fontsize=10, gid="count",
                        color="white" if shares[i, j] > 0.55 else "#222222")
    ax.set_xticks(range(n_cols), predicted_labels)
    ax.set_yticks(range(n_rows), labels)
    ax.set(xlabel="predicted", ylabel="true")
    ax.tick_params(axis="x", labeltop=True, labelbottom=False, top=True, bottom=False)
    ax.xaxis.set_label_position("top")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(n_cols - 0.5 + 0.25, -0.5, "accuracy", va="bottom", ha="left", fontsize=9, color=GREY)
    for i in range(n_rows):
        accuracy = f"{correct[i] / totals[i]:.0%} ({correct[i]:g}/{totals[i]:g})" if totals[i] else "n/a"
        ax.text(n_cols - 0.5 + 0.25, i, accuracy, va="center", ha="left", fontsize=9, clip_on=False, gid="accuracy")
    overall = correct.sum() / totals.sum() if totals.sum() else float("nan")
    ax.set_title(title or f"Language identification: {overall:.0%} correct ({correct.sum():g}/{totals.sum():g})",
                 pad=12)
    return fig


# --- 9. throughput ------------------------------------------------------------------------------------------

_THROUGHPUT_HINT = ("evaluation.Throughput results or rows with label/mode and audio_minutes_per_compute_minute "
                    "(e.g. sequential, batched, parallel)")


@_figure_function
def plot_throughput(rows: Any, title: str = "") -> Figure:
    """Audio minutes transcribed per compute minute for each way of running (higher is better).

    `rows`: ``evaluation.Throughput``s (labelled by mode and batch size) or dicts/DataFrame with label (or
    mode and batch_size) and audio_minutes_per_compute_minute. Speed-ups are against the first row.
    """
    what = "plot_throughput"
    records = _records(rows, what, _THROUGHPUT_HINT)
    labels, values = [], []
    for i, r in enumerate(records):
        label = _field(r, "label", what, i, None)
        if label is None:
            mode = str(_field(r, "mode", what, i))
            batch = int(_field(r, "batch_size", what, i, 1) or 1)
            label = f"{mode} (batch {batch})" if batch > 1 else mode
        labels.append(str(label))
        values.append(_number(_field(r, "audio_minutes_per_compute_minute", what, i),
                              what, "audio_minutes_per_compute_minute"))
    xs = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.5, 2.2 * len(labels) + 2), 4.8), layout="constrained")
    bars = ax.bar(xs, values, color=[color_for(label) for label in labels], width=0.6)
    texts = [f"{v:.1f}" + ("" if i == 0 else f"\n({v / values[0]:.1f}× {labels[0]})" if values[0] > 0 else "")
             for i, v in enumerate(values)]
    _bar_labels(ax, bars, texts)
    _pad_value_axis(ax, values, room=1.3)
    ax.set_xticks(xs, labels)
    ax.grid(False, axis="x")
    ax.set(ylabel="audio minutes per compute minute", title=title or "Throughput (higher is better)")
    return fig


# --- 10. word timestamps over the waveform ------------------------------------------------------------------


def _words_of(words: Any, what: str) -> list[dict[str, Any]]:
    """Word dicts (word, start, end[, probability]) from a list, a whisper result or a TranscriptionResult."""
    segments = words.get("segments") if isinstance(words, Mapping) else getattr(words, "segments", None)
    if segments is not None:
        words = [w for seg in segments for w in (seg.get("words") or [])]
        if not words:
            raise ValueError(f"{what}: the result has no word timestamps; transcribe with word_timestamps=True")
    return _records(words, what, "word dicts with word, start, end (transcribe(..., word_timestamps=True))")


@_figure_function
def plot_word_timeline(words: Any, audio: Any = None, sr: int = SAMPLE_RATE, title: str = "") -> Figure:
    """Word timestamps as labelled spans over the waveform, coloured by the model's confidence when known.

    `words`: a whisper result / ``TranscriptionResult`` transcribed with ``word_timestamps=True``, or a list of
    dicts with word, start, end (and probability). `audio` (array at `sr` or path) draws the waveform below.
    """
    what = "plot_word_timeline"
    items = _words_of(words, what)
    spans = []
    for i, w in enumerate(items):
        start = _number(_field(w, "start", what, i), what, "start")
        end = _number(_field(w, "end", what, i), what, "end")
        probability = _optional_number(_field(w, "probability", what, i, None))
        spans.append((str(_field(w, "word", what, i)).strip(), start, end, probability))
    samples = _audio_for_plot(audio, sr) if audio is not None else None
    duration = len(samples) / SAMPLE_RATE if samples is not None else max(end for _, _, end, _ in spans)
    fig, ax = plt.subplots(figsize=(min(18.0, max(10.0, duration * 0.9)), 4.0), layout="constrained")
    if samples is not None:
        _draw_waveform(ax, samples, SAMPLE_RATE, color="#9FB3C8")
        peak = ax.get_ylim()[1]
    else:
        peak = 1.0
        ax.set_yticks([])
    cmap = plt.get_cmap("RdYlGn")
    height = 0.42 * peak
    for k, (word, start, end, probability) in enumerate(spans):
        color = cmap(probability) if probability is not None else _lighten(color_for("speech"), 0.5)
        bottom = peak * (1.12 if k % 2 == 0 else 1.6)  # two rows, so neighbouring labels never collide
        ax.add_patch(Rectangle((start, bottom), max(end - start, 1e-3), height, fc=color, ec="white", lw=1,
                               alpha=0.85, gid="word"))
        ax.text((start + end) / 2, bottom + height / 2, word, ha="center", va="center", fontsize=9, clip_on=True)
        if samples is not None:
            ax.axvline(start, ymax=1.1 / 2.1, color=GREY, lw=0.5, alpha=0.5)
    ax.set_ylim(-peak * 1.05 if samples is not None else 0.9, peak * 2.1)
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    if samples is not None:
        ax.set_yticks([t for t in ax.get_yticks() if abs(t) <= peak])
    if any(p is not None for *_, p in spans):
        from matplotlib.cm import ScalarMappable

        colorbar = fig.colorbar(ScalarMappable(cmap=cmap), ax=ax, pad=0.01, fraction=0.03)
        colorbar.set_label("word probability")
    ax.set_title(title or f"{len(spans)} words with their timestamps", loc="left")
    return fig
