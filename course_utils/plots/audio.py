"""Figures of audio: the waveform above Whisper's own log-mel, and word timestamps over the waveform."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import librosa
import matplotlib.pyplot as plt
import numpy as np
import whisper
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from whisper.audio import HOP_LENGTH, N_FRAMES, N_SAMPLES

from ..audio import SAMPLE_RATE, load_audio
from .style import BLUE, GREY, color_for, figure_function, finite_number, lighten, optional_number, read_rows, row_field

__all__ = ["plot_waveform_and_mel", "plot_word_timeline"]


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


_TICKS_HZ = (250, 500, 1000, 2000, 4000, 7000)


def _mel_ticks(n_mels: int) -> tuple[list[float], list[str]]:
    """Y positions (in mel bins) and labels for a few frequencies, from librosa's Slaney mel scale.

    Whisper's filterbank is ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)``: bin k is centred on
    the k+1-th of ``mel_frequencies(n_mels + 2, fmax=8000)``, evenly spaced in mel.
    """
    centres = librosa.hz_to_mel(librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=SAMPLE_RATE / 2)[1:-1])
    ys = np.interp(librosa.hz_to_mel(np.array(_TICKS_HZ, dtype=float)), centres, np.arange(n_mels)) + 0.5
    return [float(y) for y in ys], [f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz} Hz" for hz in _TICKS_HZ]


@figure_function
def plot_waveform_and_mel(audio: Any, sr: int = SAMPLE_RATE, title: str = "", n_mels: int = 80) -> Figure:
    """Waveform above Whisper's own log-mel (``whisper.log_mel_spectrogram``), on one time axis.

    `audio` is an array at `sr` (resampled to 16 kHz like everything Whisper hears) or a file path. The
    spectrogram is exactly the encoder's input, computed as ``whisper.transcribe`` does (with 30 s of padding,
    which sets the same normalisation), but only the real duration is drawn. `n_mels` is 80, or 128 for
    large-v3/turbo.
    """
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


# --- 10. word timestamps over the waveform ------------------------------------------------------------------


def _words_of(words: Any, what: str) -> list[dict[str, Any]]:
    """Word dicts (word, start, end[, probability]) from a list, a whisper result or a TranscriptionResult."""
    segments = words.get("segments") if isinstance(words, Mapping) else getattr(words, "segments", None)
    if segments is not None:
        words = [w for seg in segments for w in (seg.get("words") or [])]
        if not words:
            raise ValueError(f"{what}: the result has no word timestamps; transcribe with word_timestamps=True")
    return read_rows(words, what, "word dicts with word, start, end (transcribe(..., word_timestamps=True))")


@figure_function
def plot_word_timeline(words: Any, audio: Any = None, sr: int = SAMPLE_RATE, title: str = "") -> Figure:
    """Word timestamps as labelled spans over the waveform, coloured by the model's confidence when known.

    `words`: a whisper result / ``TranscriptionResult`` transcribed with ``word_timestamps=True``, or a list of
    dicts with word, start, end (and probability). `audio` (array at `sr` or path) draws the waveform below.
    """
    what = "plot_word_timeline"
    items = _words_of(words, what)
    spans = []
    for i, w in enumerate(items):
        start = finite_number(row_field(w, "start", what, i), what, "start")
        end = finite_number(row_field(w, "end", what, i), what, "end")
        probability = optional_number(row_field(w, "probability", what, i, None))
        spans.append((str(row_field(w, "word", what, i)).strip(), start, end, probability))
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
        color = cmap(probability) if probability is not None else lighten(color_for("speech"), 0.5)
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
        colorbar = fig.colorbar(ScalarMappable(cmap=cmap), ax=ax, pad=0.01, fraction=0.03)
        colorbar.set_label("word probability")
    ax.set_title(title or f"{len(spans)} words with their timestamps", loc="left")
    return fig
