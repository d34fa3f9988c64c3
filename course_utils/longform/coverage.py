"""What a transcript covers: the speech that voice activity detection found, minus the decoded segments' times.

Every stretch of VAD speech that no decoded segment covers is either decoded again
(``recover.recover_uncovered``, used by ``transcribe_long``) or reported: in the window records, in
``LongformResult.uncovered`` with its reason, and in one warning line (``UncoveredSpeechWarning``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from ..audio import SAMPLE_RATE
from .engine import Covered

# Whisper's segment times drift by a second or more (tiny.en, measured on the stress set): speech this close
# to a decoded segment counts as covered, and only longer stretches are reported (about a sentence or more)
COVER_PAD_S = 1.0
MIN_UNCOVERED_S = 2.0

Interval = tuple[float, float]


class UncoveredSpeechWarning(UserWarning):
    """Speech that voice activity detection found got no text in the transcript."""


def subtract(intervals: Sequence[Interval], holes: Sequence[Interval], min_s: float = 0.0) -> list[Interval]:
    """The parts of `intervals` outside every hole, each at least `min_s` long (all in seconds, sorted)."""
    holes = sorted(holes)
    out: list[Interval] = []
    for start, end in sorted(intervals):
        pieces = [(start, end)]
        for hole_start, hole_end in holes:
            if hole_end <= start or hole_start >= end:
                continue
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, hole_start)), (max(a, hole_end), b))
                if piece[1] > piece[0]
            ]
        out += [p for p in pieces if p[1] - p[0] >= min_s]
    return out


def overlap(intervals: Sequence[Interval], start: float, end: float) -> float:
    """Seconds of `intervals` inside [start, end)."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)


def speech_seconds(stamps: Sequence[tuple[int, int]]) -> list[Interval]:
    """VAD speech segments (samples) as seconds."""
    return [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in stamps]


def uncovered_speech(
    speech: Sequence[Interval], segments: Sequence[Interval], pad_s: float = COVER_PAD_S, min_s: float = MIN_UNCOVERED_S
) -> list[Interval]:
    """Stretches of speech (at least `min_s`) farther than `pad_s` from every decoded segment."""
    padded = [(a - pad_s, b + pad_s) for a, b in segments]
    return subtract(speech, padded, min_s)


def drop_unspoken(covered: Covered, speech: Sequence[Interval], pad_s: float = 0.5) -> int:
    """The hallucination filter: segments with no VAD speech under them (± `pad_s`) are dropped and reported.

    Whisper writes "you" or "Thank you." over silence and low noise even when its no-speech probability
    does not pass whisper.transcribe's rule; voice activity detection settles it. Returns how many were
    dropped; each becomes a skipped stretch of its window with the reason.
    """
    dropped = 0
    for window, skipped in zip(covered.segments, covered.skipped, strict=True):
        keep = []
        for segment in window:
            if overlap(speech, segment.start_s - pad_s, segment.end_s + pad_s) > 0:
                keep.append(segment)
            else:
                skipped.append((segment.start_s, segment.end_s, "text over no speech (hallucination filter)"))
                dropped += 1
        window[:] = keep
    return dropped


def with_reasons(
    uncovered: Sequence[Interval], skipped: Sequence[tuple[float, float, str]]
) -> list[tuple[float, float, str]]:
    """Each uncovered stretch with the reason decoding left it: a skipped window's reason, else 'no text'."""
    out = []
    for start, end in uncovered:
        reasons = [reason for a, b, reason in skipped if a < end and b > start]
        out.append((start, end, reasons[0] if reasons else "decoded, but no text for it"))
    return out


def warn_uncovered(method: str, uncovered: Sequence[tuple[float, float, str]]) -> None:
    """One warning line listing the uncovered speech (times and reasons), nothing when all is covered."""
    if not uncovered:
        return
    total = sum(b - a for a, b, _ in uncovered)
    listed = "; ".join(f"{a:.1f}–{b:.1f} s ({reason})" for a, b, reason in uncovered[:8])
    more = f"; and {len(uncovered) - 8} more" if len(uncovered) > 8 else ""
    warnings.warn(
        f"{method}: {total:.1f} s of speech found by VAD has no text in the transcript: {listed}{more} "
        "(see result.uncovered)",
        UncoveredSpeechWarning,
        stacklevel=3,
    )
