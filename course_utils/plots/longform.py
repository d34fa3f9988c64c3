"""Figures of long audio: the chunks over the timeline with their RTF, and the words lost at naive cuts.

The numbers come from ``longform`` (the chunks) and ``scoring.boundary_losses`` (the lost words); these
functions only draw them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy

from .. import display as show
from ..scoring import BoundaryLoss, boundary_losses
from .style import GREY, bar_labels, color_for, figure_function, finite_number, read_rows, row_field, rtf_axis

__all__ = ["plot_chunk_timeline", "plot_boundary_loss"]


# --- 3. long audio: chunk timeline --------------------------------------------------------------------------


@figure_function
def plot_chunk_timeline(result: Any, title: str = "") -> Figure:
    """Chunks as bars over the audio timeline (overlaps hatched, speech left without text red), RTFs below.

    `result` is a ``longform.LongformResult`` (or anything with ``.chunks``), or the chunks themselves:
    ``ChunkRecord``s/dicts/a DataFrame with start_s, end_s and rtf (or compute_s), optionally text.
    """
    spans, rtfs, texts = _chunks_of(result, "plot_chunk_timeline")
    duration = float(getattr(result, "audio_s", 0.0) or max(end for _, end in spans))
    method = str(getattr(result, "method", "") or "chunks")
    color = color_for(method)
    n = len(spans)
    fig, (ax_line, ax_rtf) = plt.subplots(2, 1, figsize=(12, 2.2 + 0.42 * n + 3.2), layout="constrained",
                                          height_ratios=[0.6 + 0.42 * n, 3.2])
    _draw_chunks(ax_line, spans, texts, color, duration)
    _draw_uncovered(ax_line, getattr(result, "uncovered", None) or [])
    overall = getattr(result, "rtf", None)
    _draw_chunk_rtfs(ax_rtf, rtfs, None if overall is None else float(overall), color)
    fig.suptitle(title or f"Long audio, {method}")
    return fig


def _chunks_of(result: Any, what: str) -> tuple[list[tuple[float, float]], list[float], list[str]]:
    """(start, end) spans, RTFs and texts of the chunks of a LongformResult (or of the chunk rows themselves)."""
    chunks = read_rows(getattr(result, "chunks", result), what,
                       "a LongformResult from course_utils.longform (or its .chunks)")
    spans, rtfs, texts = [], [], []
    for i, row in enumerate(chunks):
        start = finite_number(row_field(row, "start_s", what, i), what, "start_s")
        end = finite_number(row_field(row, "end_s", what, i), what, "end_s")
        if end <= start:
            raise ValueError(f"{what}: chunk {i} ends ({end}) before it starts ({start})")
        seconds = row_field(row, "compute_s", what, i, None)
        rtf = row_field(row, "rtf", what, i, None if seconds is None else float(seconds) / (end - start))
        if rtf is None:
            raise ValueError(f"{what}: chunk {i} has neither rtf nor compute_s")
        spans.append((start, end))
        rtfs.append(float(rtf))
        texts.append(str(row_field(row, "text", what, i, "")))
    return spans, rtfs, texts


def _draw_chunks(ax: Axes, spans: Sequence[tuple[float, float]], texts: Sequence[str], color: str,
                 duration: float) -> None:
    """One bar per chunk on its own row, overlaps with the previous chunk hatched, the text's start inside."""
    n = len(spans)
    char_s = duration / (12 * 72 / (0.62 * 8.5))  # seconds of timeline per character at font size 8.5
    for i, ((start, end), text) in enumerate(zip(spans, texts, strict=True)):
        ax.barh(i, end - start, left=start, height=0.62, color=color, alpha=0.85, gid="chunk")
        if i and start < spans[i - 1][1]:
            overlap_end = min(end, spans[i - 1][1])
            ax.barh(i, overlap_end - start, left=start, height=0.62, facecolor="none", edgecolor="black",
                    hatch="///", lw=0, gid="overlap")
        text_start = max(start, spans[i - 1][1]) if i else start  # after the hatched overlap
        room = max(0, int((end - text_start) / char_s) - 8)
        snippet = text if len(text) <= room else text[: max(0, room - 1)].rstrip() + "…"
        ax.text(text_start + char_s, i, f"{i + 1}" + (f"  “{snippet}”" if snippet and room > 3 else ""),
                va="center", ha="left", fontsize=8.5, color="white", clip_on=True)
    ax.set_yticks(range(n), [f"{s:.0f}–{e:.0f} s" for s, e in spans], fontsize=9)
    ax.set_ylim(n - 0.4, -0.6)
    ax.set_xlim(0, duration)
    ax.set_xlabel("audio time (s)")
    ax.grid(False, axis="y")
    overlapping = any(spans[i][0] < spans[i - 1][1] for i in range(1, n))
    ax.set_title(f"{n} chunks over {duration:.1f} s of audio" + (
        " (hatched: overlap with the previous chunk)" if overlapping
        else " (back to back: words at the cuts may be lost or garbled)"), loc="left")


def _draw_uncovered(ax: Axes, uncovered: Sequence[Sequence[Any]]) -> None:
    """Speech that no decoded text covers (``LongformResult.uncovered``), as red bands over every row."""
    for i, (start, end, *_) in enumerate(uncovered):
        ax.axvspan(float(start), float(end), color="red", alpha=0.35, lw=0, gid="uncovered",
                   label="speech without text" if i == 0 else None)
    if uncovered:
        total = sum(float(end) - float(start) for start, end, *_ in uncovered)
        ax.set_title(f"{ax.get_title(loc='left')}; red: {total:.1f} s of speech without text", loc="left")
        ax.legend(loc="lower right", fontsize=9)


def _draw_chunk_rtfs(ax: Axes, rtfs: Sequence[float], overall: float | None, color: str) -> None:
    """Each chunk's RTF as a bar, the whole call's RTF as a dotted line, and the real-time line."""
    n = len(rtfs)
    bars = ax.bar(range(1, n + 1), rtfs, color=color, width=0.7)
    bar_labels(ax, bars, [show.rtf(r) for r in rtfs], fontsize=8, label_type="center", color="white")
    if overall is not None:
        ax.axhline(overall, color=color, ls=":", lw=1.5, label=f"whole call: RTF {overall:.3f}")
    rtf_axis(ax, max([*rtfs, overall or 0.0]))
    ax.set_xticks(range(1, n + 1))
    ax.grid(False, axis="x")
    ax.set(xlabel="chunk", ylabel="RTF (lower is faster)", title="Real-time factor per chunk")
    ax.legend(loc="upper left", fontsize=9)


# --- 5. words lost at a naive chunk boundary (measured by scoring.boundary_losses) ----------------------


def _text_width_pt(text: str, fontsize: float, family: str = "sans-serif") -> float:
    """Width of `text` in points as Agg renders it (the same fonts any backend's PNG output uses)."""
    width, _, _ = _renderer72().get_text_width_height_descent(text, FontProperties(family=family, size=fontsize),
                                                              ismath=False)
    return float(width)


@functools.lru_cache(maxsize=1)
def _renderer72() -> Any:
    """A 72-dpi Agg renderer, so measured text widths are in points."""
    return RendererAgg(1, 1, 72)


def _plural(n: int, word: str) -> str:
    """'1 word', '2 words'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@figure_function
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
