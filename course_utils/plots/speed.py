"""Figures of speed and cost: RTF against duration, methods, model sizes, precisions/engines and throughput."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from .. import display as show
from .style import (
    GREY,
    REALTIME_GID,
    VERMILION,
    bar_labels,
    color_for,
    figure_function,
    finite_number,
    optional_number,
    pad_value_axis,
    read_rows,
    row_field,
    rtf_axis,
)

__all__ = [
    "plot_rtf_vs_duration", "plot_method_comparison", "plot_model_comparison", "plot_precision_comparison",
    "plot_throughput",
]


def _speed_label(value: float, baseline: float) -> str:
    """'baseline', '2.1× faster' or '1.3× slower' for a time against the baseline's time."""
    if value <= 0 or baseline <= 0:
        return ""
    ratio = baseline / value
    if math.isclose(ratio, 1.0, rel_tol=0.005):
        return "1.0×"
    return f"{ratio:.1f}× faster" if ratio > 1 else f"{1 / ratio:.1f}× slower"


# --- 2. RTF against duration ----------------------------------------------------------------------------------

_SWEEP_HINT = "the SweepPoints from timing.rtf_sweep (or timing.sweep_table(points))"


@figure_function
def plot_rtf_vs_duration(points: Any) -> Figure:
    """Processing time against audio duration with the real-time line, and RTF bars per duration and signal.

    `points`: ``SweepPoint``s (or their DataFrame/dicts) with signal ('speech'/'tone'), audio_s,
    compute_s and rtf. Shows why RTF is not constant: a short clip still costs a full 30-s window.
    """
    what = "plot_rtf_vs_duration"
    rows = read_rows(points, what, _SWEEP_HINT)
    data: dict[str, dict[float, tuple[float, float]]] = {}
    for i, row in enumerate(rows):
        signal = str(row_field(row, "signal", what, i, "speech"))
        duration = finite_number(row_field(row, "audio_s", what, i), what, "audio_s")
        seconds = finite_number(row_field(row, "compute_s", what, i), what, "compute_s")
        rtf = finite_number(row_field(row, "rtf", what, i, seconds / duration if duration else 0.0), what, "rtf")
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
        bar_labels(ax_rtf, bars, [show.rtf(r) for r in rtfs], fontsize=8)
    ax_rtf.set_xticks(range(len(durations)), [f"{d:g} s" for d in durations])
    ax_rtf.grid(False, axis="x")
    rtf_axis(ax_rtf, max_rtf, headroom=1.4)
    ax_rtf.set(xlabel="audio duration", ylabel="real-time factor (lower is faster)",
               title="RTF per duration (processing time / audio time)")
    ax_rtf.legend(loc="upper left", ncols=len(signals) + 1)
    return fig


# --- 4. methods compared: time and WER ------------------------------------------------------------------------

_METHOD_HINT = "rows with method, compute_s and wer (evaluation.method_table(...), dicts or a DataFrame)"


@figure_function
def plot_method_comparison(rows: Any, baseline: str | None = None, title: str = "") -> Figure:
    """Time per method (with speed against a baseline) next to WER per method, as horizontal bars.

    `rows`: dicts/DataFrame/dataclasses with method, compute_s and wer
    (a fraction; None/NaN when not scored). `baseline` is a method name; default the first row.
    """
    what = "plot_method_comparison"
    records = read_rows(rows, what, _METHOD_HINT)
    methods = [str(row_field(r, "method", what, i)) for i, r in enumerate(records)]
    seconds = [finite_number(row_field(r, "compute_s", what, i), what, "compute_s")
               for i, r in enumerate(records)]
    wers = [optional_number(row_field(r, "wer", what, i, None)) for i, r in enumerate(records)]
    base = _baseline_index(methods, baseline, what)
    colors = [color_for(m) for m in methods]
    ys = np.arange(len(methods))

    fig, (ax_time, ax_wer) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.55 * len(methods)), sharey=True,
                                          layout="constrained")
    _time_bars(ax_time, ys, methods, seconds, colors, base, lambda s: f"{s:.1f} s", "processing time (s)")

    _wer_bars(ax_wer, ys, wers, colors, "h")
    ax_wer.set(title="Word error rate (lower is better)")
    fig.suptitle(title or "Long-form methods on the same audio")
    return fig


def _time_bars(ax: Axes, ys: Sequence[float], names: Sequence[str], values: Sequence[float], colors: Sequence[str],
               base: int, fmt: Callable[[float], str], xlabel: str) -> None:
    """Horizontal time bars, first row on top, each labelled with its value and its speed against the baseline."""
    bars = ax.barh(ys, values, color=colors, height=0.65)
    bar_labels(ax, bars, [f"{fmt(v)}  " + ("(baseline)" if i == base else f"({_speed_label(v, values[base])})")
                          for i, v in enumerate(values)])
    pad_value_axis(ax, values, "h", room=1.6)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    ax.set(xlabel=xlabel, title="Time (lower is faster)")


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
    bar_labels(ax, bars, [f"{v:.1f} %" if w is not None else "n/a" for v, w in zip(values, wers, strict=True)])
    pad_value_axis(ax, values, orientation, room=1.3)
    label = "WER (%)"
    if orientation == "h":
        ax.set_xlabel(label)
        ax.grid(False, axis="y")
    else:
        ax.set_ylabel(label)
        ax.grid(False, axis="x")


# --- 6. model comparison ------------------------------------------------------------------------------------

_MODEL_HINT = "rows with model, parameters_m, rtf, wer and load_s (e.g. evaluation.compare_models(...))"


def _realtime_label(rtf: float) -> str:
    """'0.250 (4.0× faster than real time)' or '1.144 (slower than real time)' for a bar label."""
    if rtf <= 0:
        return "0"
    if rtf >= 1:
        return f"{rtf:.3f}\n(slower than real time)"
    return f"{rtf:.3f}\n({1 / rtf:.1f}× faster than real time)"


@figure_function
def plot_model_comparison(rows: Any, title: str = "") -> Figure:
    """Four panels per model: size (parameters, load time), RTF, the speed-vs-size trade-off and WER.

    `rows`: ``evaluation.ModelComparison``s or dicts/DataFrame with model, parameters_m, rtf, and optionally
    wer (fraction; None for 'not measured') and load_s. Models are sorted by size.
    """
    what = "plot_model_comparison"
    records = read_rows(rows, what, _MODEL_HINT)
    models = []
    for i, r in enumerate(records):
        models.append({
            "model": str(row_field(r, "model", what, i)),
            "params": finite_number(row_field(r, "parameters_m", what, i), what, "parameters_m"),
            "rtf": finite_number(row_field(r, "rtf", what, i), what, "rtf"),
            "wer": optional_number(row_field(r, "wer", what, i, None)),
            "load_s": optional_number(row_field(r, "load_s", what, i, None)),
        })
    models.sort(key=lambda m: m["params"])
    names = [m["model"] for m in models]
    colors = [color_for(n) for n in names]
    xs = np.arange(len(models))

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), layout="constrained")
    (ax_size, ax_rtf), (ax_trade, ax_wer) = axes
    params = [m["params"] for m in models]
    bars = ax_size.bar(xs, params, color=colors, width=0.65)
    bar_labels(ax_size, bars, [f"{m['params']:.0f} M" + (f"\nload {m['load_s']:.1f} s" if m["load_s"] is not None
                                                         else "") for m in models])
    pad_value_axis(ax_size, params, room=1.3)
    ax_size.set(ylabel="parameters (millions)", title="Model size")

    rtfs = [m["rtf"] for m in models]
    bars = ax_rtf.bar(xs, rtfs, color=colors, width=0.65)
    bar_labels(ax_rtf, bars, [_realtime_label(r) for r in rtfs])
    rtf_axis(ax_rtf, max(rtfs) * 1.15)
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


@figure_function
def plot_precision_comparison(rows: Any, baseline: str | None = None, title: str = "") -> Figure:
    """Time per precision/engine with speed-up labels against a baseline, plus WER when rows have it.

    `rows`: dicts/DataFrame (e.g. ``engines.EngineRun``s) with label, compute_s (else rtf)
    and optional wer. For FP32 vs FP16 on a GPU, or openai-whisper vs faster-whisper fp32/int8 on a CPU.
    """
    what = "plot_precision_comparison"
    records = read_rows(rows, what, _PRECISION_HINT)
    labels = [str(row_field(r, "label", what, i))
              for i, r in enumerate(records)]
    has_seconds = all(row_field(r, "compute_s", what, i, None) is not None for i, r in enumerate(records))
    key = "compute_s" if has_seconds else "rtf"
    values = [finite_number(row_field(r, key, what, i), what, key) for i, r in enumerate(records)]
    wers = [optional_number(row_field(r, "wer", what, i, None)) for i, r in enumerate(records)]
    show_wer = any(w is not None for w in wers)
    base = _baseline_index(labels, baseline, what)
    colors = [color_for(label) for label in labels]
    ys = np.arange(len(labels))

    fig, axes = plt.subplots(1, 2 if show_wer else 1, figsize=(12 if show_wer else 8, 1.6 + 0.6 * len(labels)),
                             sharey=True, layout="constrained", squeeze=False)
    ax_time = axes[0, 0]
    unit = " s" if has_seconds else ""
    _time_bars(ax_time, ys, labels, values, colors, base, lambda v: f"{v:.2f}{unit}",
               "processing time (s)" if has_seconds else "RTF")
    if show_wer:
        _wer_bars(axes[0, 1], ys, wers, colors, "h")
        axes[0, 1].set(title="Word error rate (lower is better)")
    fig.suptitle(title or "Precision and engine: same audio, same model size")
    return fig


# --- 9. throughput ------------------------------------------------------------------------------------------

_THROUGHPUT_HINT = ("evaluation.Throughput results or rows with label/mode and audio_minutes_per_compute_minute "
                    "(e.g. sequential, batched, parallel)")


@figure_function
def plot_throughput(rows: Any, title: str = "") -> Figure:
    """Audio minutes transcribed per compute minute for each way of running (higher is better).

    `rows`: ``evaluation.Throughput``s (labelled by mode and batch size) or dicts/DataFrame with label (or
    mode and batch_size) and audio_minutes_per_compute_minute. Speed-ups are against the first row.
    """
    what = "plot_throughput"
    records = read_rows(rows, what, _THROUGHPUT_HINT)
    labels, values = [], []
    for i, r in enumerate(records):
        label = row_field(r, "label", what, i, None)
        if label is None:
            mode = str(row_field(r, "mode", what, i))
            batch = int(row_field(r, "batch_size", what, i, 1) or 1)
            label = f"{mode} (batch {batch})" if batch > 1 else mode
        labels.append(str(label))
        values.append(finite_number(row_field(r, "audio_minutes_per_compute_minute", what, i),
                                    what, "audio_minutes_per_compute_minute"))
    xs = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.5, 2.2 * len(labels) + 2), 4.8), layout="constrained")
    bars = ax.bar(xs, values, color=[color_for(label) for label in labels], width=0.6)
    texts = [f"{v:.1f}" + ("" if i == 0 else f"\n({v / values[0]:.1f}× {labels[0]})" if values[0] > 0 else "")
             for i, v in enumerate(values)]
    bar_labels(ax, bars, texts)
    pad_value_axis(ax, values, room=1.3)
    ax.set_xticks(xs, labels)
    ax.grid(False, axis="x")
    ax.set(ylabel="audio minutes per compute minute", title=title or "Throughput (higher is better)")
    return fig
