"""Joining the transcripts of overlapping windows without doubling or losing the overlap.

Two merges, both pure functions:

- ``merge_overlapping`` works on plain sequences (token ids or words), as the Hugging Face ASR pipeline
  merges chunks: the longest common sequence in the overlap, cut at its middle (taught in the lesson);
- ``merge_timed`` works on words with times (from the timed segments of ``engine.decode_covered``) and is
  what ``transcribe_overlapping`` and ``transcribe_long`` use: words match only when their normalised
  spelling agrees *and* their times are close, so a phrase said twice is never mistaken for the overlap,
  and when the windows share no words (one of them skipped part of the overlap) the cut is placed in time
  where it keeps the most words, so the window that heard the speech keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


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


# --- the timed merge ----------------------------------------------------------------------------------------

# Whisper's segment times differ between two windows by about a second, and a word's time is interpolated
# inside its segment (another second or so): equal words at most this far apart in time may be the same word
MATCH_TOLERANCE_S = 2.0
# words this far outside the overlap (before the right window starts, after the left one ends) still take
# part in the match, for the same drift
OVERLAP_PAD_S = 2.0
MIN_MATCHES = 2  # fewer time-consistent equal words than this is no evidence: the cut is placed in time


@dataclass(frozen=True)
class TimedWord:
    """One decoded word: the key it is matched on, its estimated time in the recording, its tokens."""

    key: str  # normalised spelling ("" never matches)
    time_s: float
    tokens: tuple[int, ...] = ()


def normalise_word(text: str) -> str:
    """Lower case without punctuation or spaces: "Longer." and " longer" match."""
    return re.sub(r"[\W_]+", "", text.lower())


def timed_words(
    start_s: float, end_s: float, words: Sequence[str], tokens: Sequence[Sequence[int]] | None = None
) -> list[TimedWord]:
    """The words of one segment, each timed at the centre of its share of the segment (by character count)."""
    sizes = [max(len(word.strip()), 1) for word in words]
    total, done, out = sum(sizes), 0, []
    for i, (word, size) in enumerate(zip(words, sizes, strict=True)):
        time = start_s + (end_s - start_s) * (done + size / 2) / total
        out.append(TimedWord(normalise_word(word), time, tuple(tokens[i]) if tokens is not None else ()))
        done += size
    return out


def matched_pairs(
    left: Sequence[TimedWord], right: Sequence[TimedWord], tolerance_s: float = MATCH_TOLERANCE_S
) -> list[tuple[int, int]]:
    """(left index, right index) of the longest common subsequence of equal keys at most `tolerance_s` apart."""
    n, m = len(left), len(right)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n):
        for j in range(m):
            same = left[i].key and left[i].key == right[j].key
            if same and abs(left[i].time_s - right[j].time_s) <= tolerance_s:
                table[i + 1][j + 1] = table[i][j] + 1
            else:
                table[i + 1][j + 1] = max(table[i][j + 1], table[i + 1][j])
    pairs, i, j = [], n, m
    while i and j:
        if table[i][j] == table[i - 1][j - 1] + 1 and table[i][j] > max(table[i - 1][j], table[i][j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif table[i - 1][j] >= table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def time_cut(left: Sequence[TimedWord], right: Sequence[TimedWord], middle_s: float) -> tuple[int, int]:
    """(left words kept, right words dropped) for the cut time that keeps the most words, nearest `middle_s`.

    Left keeps its words before the cut, right its words from the cut on; when one window skipped speech
    in the overlap, the other window's words there are kept.
    """
    times = sorted({middle_s, *(w.time_s for w in right), *(w.time_s + 1e-6 for w in left)})
    best: tuple[int, float, int, int] | None = None
    for cut in times:
        n_left = next((i for i, w in enumerate(left) if w.time_s >= cut), len(left))
        n_drop = next((j for j, w in enumerate(right) if w.time_s >= cut), len(right))
        key = (n_left + len(right) - n_drop, -abs(cut - middle_s), n_left, n_drop)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2], best[3]


def merge_timed(
    windows: Sequence[Sequence[TimedWord]],
    spans_s: Sequence[tuple[float, float]],
    tolerance_s: float = MATCH_TOLERANCE_S,
    pad_s: float = OVERLAP_PAD_S,
    min_matches: int = MIN_MATCHES,
) -> tuple[list[TimedWord], list[int]]:
    """(merged words, the window each merged word came from) for windows at `spans_s` (seconds), in order.

    For each next window, the words of both sides near the overlap (within `pad_s` of it) are aligned by
    ``matched_pairs``; with at least `min_matches` pairs the left side is kept up to the middle pair and the
    right side after it. Otherwise the cut is placed in time by ``time_cut``. Words outside the overlap are
    always kept.
    """
    if len(windows) != len(spans_s):
        raise ValueError(f"{len(windows)} word lists for {len(spans_s)} windows")
    merged: list[TimedWord] = []
    source: list[int] = []
    for k, window in enumerate(windows):
        right = list(window)
        if k == 0 or not merged:
            merged += right
            source += [k] * len(right)
            continue
        right_start, left_end = spans_s[k][0], spans_s[k - 1][1]
        first = next((i for i, w in enumerate(merged) if w.time_s >= right_start - pad_s), len(merged))
        near = next((j for j, w in enumerate(right) if w.time_s >= left_end + pad_s), len(right))
        left_near, right_near = merged[first:], right[:near]
        pairs = matched_pairs(left_near, right_near, tolerance_s)
        if len(pairs) >= max(min_matches, 1):
            i, j = pairs[len(pairs) // 2]
            n_left, n_drop = i + 1, j + 1
        else:
            n_left, n_drop = time_cut(left_near, right_near, (right_start + left_end) / 2)
        del merged[first + n_left :], source[first + n_left :]
        merged += right[n_drop:]
        source += [k] * (len(right) - n_drop)
    return merged, source
