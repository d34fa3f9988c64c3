"""Joining the transcripts of overlapping windows: longest common sequence in the overlap, cut at its middle.

Pure functions on sequences (token ids or words), as the Hugging Face ASR pipeline merges chunks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

# transcribe_overlapping accepts an overlap match only when at least this share of the aligned tokens agree
MIN_OVERLAP_RATIO = 0.25


def best_alignment(
    left: Sequence[T], right: Sequence[T], max_shift: int | None = None, min_ratio: float = 0.0
) -> tuple[int, int, int, int]:
    """(left_start, left_stop, right_start, right_stop) of the best-matching overlap, or a no-match marker.

    Slides `right` along `left` and scores each alignment by matches / shift + shift / 10000 (favouring long
    near-perfect matches), keeping only alignments with more than one match, as the HF pipeline does, and
    (when asked) at most `max_shift` items deep and with at least `min_ratio` of the aligned items equal.
    """
    n_left, n_right = len(left), len(right)
    best_score, best = 0.0, (n_left, n_left, 0, 0)  # no match: keep all of left, all of right
    last = n_left + n_right if max_shift is None else min(n_left + n_right, max_shift + 1)
    for shift in range(1, last):
        left_start, left_stop = max(0, n_left - shift), min(n_left, n_left + n_right - shift)
        right_start, right_stop = max(0, shift - n_left), min(n_right, shift)
        pairs = zip(left[left_start:left_stop], right[right_start:right_stop], strict=True)
        matches = sum(a == b for a, b in pairs)
        score = matches / shift + shift / 10000.0
        if matches > 1 and matches >= min_ratio * (left_stop - left_start) and score > best_score:
            best_score, best = score, (left_start, left_stop, right_start, right_stop)
    return best


def merge_with_counts(
    sequences: Sequence[Sequence[T]], max_shift: int | None = None, min_ratio: float = 0.0
) -> tuple[list[T], list[int]]:
    """The merged sequence and how many items of each input sequence it kept."""
    if not sequences:
        return [], []
    merged: list[T] = []
    kept: list[int] = []
    left = list(sequences[0])
    for right in sequences[1:]:
        right = list(right)
        left_start, left_stop, right_start, right_stop = best_alignment(left, right, max_shift, min_ratio)
        left_mid = (left_start + left_stop) // 2  # trust the left window up to the middle of the overlap...
        right_mid = (right_start + right_stop) // 2  # ...and the right window after it
        merged.extend(left[:left_mid])
        kept.append(left_mid)
        left = right[right_mid:]
    merged.extend(left)
    kept.append(len(left))
    return merged, kept


def merge_overlapping(
    token_sequences: Sequence[Sequence[T]], max_shift: int | None = None, min_ratio: float = 0.0
) -> list[T]:
    """Join transcripts of overlapping windows (token ids or words) into one, without duplicating the overlap.

    Each next window is aligned to the text so far by the longest common sequence (the alignment with the
    highest share of equal items, at least two); the result keeps the left window up to the middle of that
    match and the right window after it, as the Hugging Face ASR pipeline does. Without any match the
    windows are concatenated. `max_shift` limits how far back (in items) an overlap may start and
    `min_ratio` is the least share of equal items an overlap needs: both reject chance matches of common
    words far from the real overlap, e.g. when Whisper skipped the half-heard start of a window.
    """
    return merge_with_counts(token_sequences, max_shift, min_ratio)[0]


def overlap_items(n_tokens: int, audio_s: float, overlap_s: float) -> int:
    """How many tokens deep an overlap may reach: twice the tokens expected in `overlap_s`, plus slack."""
    per_second = n_tokens / audio_s if audio_s > 0 else 0.0
    return int(2 * per_second * overlap_s) + 5
