"""Where long audio is cut into windows: fixed steps, VAD speech grouped at silences, and the checks on both.

Pure functions on sample counts; nothing here decodes or allocates audio.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from whisper.audio import N_SAMPLES

from ..audio import SAMPLE_RATE

MAX_CHUNK_S = N_SAMPLES / SAMPLE_RATE  # 30 s: Whisper's encoder sees exactly this much audio per window
# Bounded work: a window layout that decodes every second of audio more than this many times is refused
# (30 s windows with 5 s of overlap decode it 1.2 times; 10 s windows with 9.99 s of overlap, 1,000 times).
MAX_REDUNDANCY = 8.0


def window_starts(n_samples: int, chunk: int, step: int) -> list[int]:
    """Start offsets of windows of `chunk` samples every `step` samples that together cover `n_samples`.

    The last window is the first one that reaches the end, so no window is redundant; with ``step == chunk``
    the windows tile the audio exactly once. Lengths in any unit (samples, frames, seconds as ints).
    """
    if chunk < 1 or step < 1:
        raise ValueError(f"chunk and step must be >= 1, got chunk={chunk}, step={step}")
    if step > chunk:
        raise ValueError(f"step ({step}) larger than chunk ({chunk}) would leave gaps between windows")
    if n_samples <= 0:
        return []
    starts = [0]
    while starts[-1] + chunk < n_samples:
        starts.append(starts[-1] + step)
    return starts


def window_count(n_samples: int, chunk: int, step: int) -> int:
    """How many windows ``window_starts`` would return, computed without building the list."""
    if n_samples <= 0:
        return 0
    return 1 + max(0, math.ceil((n_samples - chunk) / step))


def check_window_count(n_samples: int, chunk: int, step: int) -> int:
    """The window count, or a ValueError (before anything is allocated) when the layout is absurd work."""
    count = window_count(n_samples, chunk, step)
    redundancy = chunk / step
    if count > 2 and redundancy > MAX_REDUNDANCY:
        raise ValueError(
            f"{chunk / SAMPLE_RATE:g} s windows every {step / SAMPLE_RATE:g} s would decode {count:,} windows "
            f"for {n_samples / SAMPLE_RATE:.1f} s of audio, every second about {redundancy:,.0f} times "
            f"(at most {MAX_REDUNDANCY:g} allowed); use a smaller overlap_s, e.g. overlap_s=5 with chunk_s=30"
        )
    return count


def vad_windows(
    segments: Iterable[tuple[int, int]], max_samples: int, n_samples: int | None = None
) -> list[tuple[int, int]]:
    """Merge speech segments, in order, into windows of at most `max_samples` samples cut only at silences.

    A window spans from its first segment's start to its last segment's end (short pauses inside stay, so
    words keep their context), as WhisperX does; a segment longer than the window is split into pieces.
    """
    windows: list[tuple[int, int]] = []
    for seg_start, seg_end in segments:
        seg_end = seg_end if n_samples is None else min(seg_end, n_samples)
        while seg_end - seg_start > max_samples:  # VAD normally splits these already
            windows.append((seg_start, seg_start + max_samples))
            seg_start += max_samples
        if seg_end <= seg_start:
            continue
        if windows and seg_end - windows[-1][0] <= max_samples and seg_start >= windows[-1][1]:
            windows[-1] = (windows[-1][0], seg_end)
        else:
            windows.append((seg_start, seg_end))
    return windows


def check_chunk(chunk_s: float) -> None:
    """Reject window lengths Whisper cannot take."""
    if isinstance(chunk_s, bool) or not isinstance(chunk_s, (int, float)) or not 0 < chunk_s <= MAX_CHUNK_S:
        raise ValueError(
            f"chunk_s must be more than 0 and at most {MAX_CHUNK_S:g} seconds (Whisper's window), "
            f"got {chunk_s!r}"
        )


def check_batch_size(batch_size: Any) -> int:
    """Reject batch sizes that are not integers >= 1."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"batch_size must be an integer >= 1 (mel windows per decode call), got {batch_size!r}"
        )
    return int(batch_size)
